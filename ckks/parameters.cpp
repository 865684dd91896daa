#include "henn/ckks/parameters.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <map>
#include <sstream>

#include "henn/ckks/errors.hpp"
#include "henn/math/primes.hpp"

namespace henn::ckks {

std::string to_string(SecurityLevel level) {
    return std::to_string(static_cast<int>(level)) + "-bit";
}

int max_log_qp(int log_n, SecurityLevel level) {
    // HomomorphicEncryption.org security standard, uniform ternary secret, classical attacks, as
    // tabulated by OpenFHE since 2024 (src/core/lib/lattice/stdlatticeparms.cpp, HEStd_ternary,
    // HEStd_*_classic): the rows up to N = 2^15 are the standard's 2018 values; N = 2^16 was
    // re-estimated (1772/1228/956 before, now 1747/1199/929) and N = 2^17 added.
    struct Row {
        int log_n, bits128, bits192, bits256;
    };
    static constexpr Row table[] = {
        {10, 27, 19, 14},    {11, 54, 37, 29},    {12, 109, 75, 58},     {13, 218, 152, 118},
        {14, 438, 305, 237}, {15, 881, 611, 476}, {16, 1747, 1199, 929}, {17, 3523, 2411, 1866},
    };
    for (const Row& row : table) {
        if (row.log_n != log_n) continue;
        switch (level) {
            case SecurityLevel::k128:
                return row.bits128;
            case SecurityLevel::k192:
                return row.bits192;
            case SecurityLevel::k256:
                return row.bits256;
        }
    }
    return 0;
}

ParametersLiteral ParametersLiteral::for_depth(int depth, int scale_bits, int first_bits,
                                               SecurityLevel security, int dnum) {
    if (depth < 0 || depth > 58) throw ParameterError("depth must be in [0, 58]");
    if (scale_bits < 20 || scale_bits > 60) throw ParameterError("scale bits must be in [20, 60]");
    if (first_bits < scale_bits || first_bits > 61) {
        throw ParameterError("the first prime needs between scale_bits and 61 bits");
    }
    ParametersLiteral lit;
    lit.log_q.push_back(first_bits);
    for (int i = 0; i < depth; ++i) lit.log_q.push_back(scale_bits);
    const int q_count = depth + 1;
    const int digits = dnum <= 0 ? q_count : std::min(dnum, q_count);
    const int primes_per_digit = (q_count + digits - 1) / digits;
    // P must exceed every digit's product; digits hold primes of at most first_bits.
    const int special_bits = std::min(61, std::max(first_bits, scale_bits) + 1);
    lit.log_p.assign(primes_per_digit, special_bits);
    lit.log_default_scale = scale_bits;
    lit.security = security;
    const double total = first_bits + static_cast<double>(depth) * scale_bits +
                         static_cast<double>(primes_per_digit) * special_bits;
    for (int log_n = 12; log_n <= 16; ++log_n) {
        if (total <= max_log_qp(log_n, security)) {
            lit.log_n = log_n;
            return lit;
        }
    }
    std::ostringstream msg;
    msg << "depth " << depth << " at " << scale_bits << "-bit scale needs log2(QP) ~ " << total
        << " bits, more than any ring up to N=2^16 allows at " << to_string(security)
        << " security (" << max_log_qp(16, security) << ")";
    throw ParameterError(msg.str());
}

namespace {

std::vector<u64> resolve_primes(const std::vector<int>& bit_sizes,
                                const std::vector<u64>& explicit_primes, u64 n,
                                std::vector<u64>& used, const char* which) {
    if (!bit_sizes.empty() && !explicit_primes.empty()) {
        throw ParameterError(std::string("give either bit sizes or explicit primes for ") + which +
                             ", not both");
    }
    std::vector<u64> primes;
    if (!explicit_primes.empty()) {
        for (u64 p : explicit_primes) {
            if (p >> math::kMaxModulusBits) {
                throw ParameterError(std::string(which) + " prime " + std::to_string(p) +
                                     " exceeds 61 bits");
            }
            if (!math::is_prime(p)) {
                throw ParameterError(std::string(which) + " modulus " + std::to_string(p) +
                                     " is not prime");
            }
            if (p % (2 * n) != 1) {
                throw ParameterError(std::string(which) + " prime " + std::to_string(p) +
                                     " is not 1 mod 2N = " + std::to_string(2 * n) +
                                     ", so the NTT does not exist for it");
            }
            if (std::find(used.begin(), used.end(), p) != used.end()) {
                throw ParameterError(std::string(which) + " prime " + std::to_string(p) +
                                     " is repeated");
            }
            used.push_back(p);
            primes.push_back(p);
        }
        return primes;
    }
    // Generate all primes of one size together so they are distinct and balanced.
    std::map<int, int> counts;
    for (int bits : bit_sizes) {
        if (bits < 18 || bits > math::kMaxModulusBits) {
            throw ParameterError(std::string(which) + " prime size " + std::to_string(bits) +
                                 " bits is outside [18, 61]");
        }
        counts[bits]++;
    }
    std::map<int, std::vector<u64>> by_size;
    for (auto [bits, count] : counts) {
        try {
            by_size[bits] = math::generate_ntt_primes(bits, count, n, used);
        } catch (const InvalidArgument& e) {
            throw ParameterError(e.what());
        }
        used.insert(used.end(), by_size[bits].begin(), by_size[bits].end());
    }
    std::map<int, std::size_t> next;
    for (int bits : bit_sizes) primes.push_back(by_size[bits][next[bits]++]);
    return primes;
}

std::uint64_t hash_parameters(std::size_t n, const std::vector<u64>& q, const std::vector<u64>& p) {
    std::vector<u64> words;
    words.push_back(0x68656e6e636b6b73ULL);  // domain separation: "hennckks"
    words.push_back(n);
    words.push_back(q.size());
    words.insert(words.end(), q.begin(), q.end());
    words.push_back(p.size());
    words.insert(words.end(), p.begin(), p.end());
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(words.data()), words.size() * sizeof(u64),
           digest);
    std::uint64_t h;
    std::memcpy(&h, digest, sizeof h);
    return h;
}

}  // namespace

ContextPtr Context::create(const ParametersLiteral& lit) {
    if (lit.log_n < 2 || lit.log_n > 17) {
        throw ParameterError("log_n = " + std::to_string(lit.log_n) + " is outside [2, 17]");
    }
    std::shared_ptr<Context> ctx(new Context());
    ctx->literal_ = lit;
    ctx->log_n_ = lit.log_n;
    ctx->n_ = std::size_t{1} << lit.log_n;
    ctx->security_ = lit.security;
    const u64 n = ctx->n_;
    if (lit.log_q.empty() && lit.q.empty()) throw ParameterError("the modulus chain Q is empty");
    std::vector<u64> used;
    std::vector<u64> q = resolve_primes(lit.log_q, lit.q, n, used, "Q");
    std::vector<u64> p = resolve_primes(lit.log_p, lit.p, n, used, "P");
    if (q.size() > 60) throw ParameterError("at most 60 primes in Q are supported");
    if (p.size() > 60) throw ParameterError("at most 60 special primes are supported");

    double log_qp = 0;
    for (u64 v : q) log_qp += std::log2(static_cast<double>(v));
    for (u64 v : p) log_qp += std::log2(static_cast<double>(v));
    ctx->log_qp_ = log_qp;
    const int bound = max_log_qp(lit.log_n, lit.security);
    if (bound == 0 || log_qp > bound) {
        ctx->insecure_ = true;
        if (!lit.allow_insecure) {
            std::ostringstream msg;
            msg << std::fixed << std::setprecision(1);
            if (bound == 0) {
                msg << "N = 2^" << lit.log_n
                    << " is not in the HomomorphicEncryption.org tables (2^10 to 2^17), so no "
                       "security level can be guaranteed";
            } else {
                msg << "insecure parameters: log2(QP) = " << log_qp << " exceeds " << bound
                    << ", the largest allowed for N = 2^" << lit.log_n << " at "
                    << to_string(lit.security) << " security (HomomorphicEncryption.org standard)";
            }
            msg << "; use a larger ring or fewer/smaller primes, or set allow_insecure to opt out "
                   "explicitly";
            throw ParameterError(msg.str());
        }
    }
    if (!(lit.log_default_scale > 0) || lit.log_default_scale > 120) {
        throw ParameterError("log_default_scale must be in (0, 120]");
    }
    ctx->default_scale_ = std::exp2(lit.log_default_scale);

    for (u64 v : q) ctx->q_.emplace_back(v);
    for (u64 v : p) ctx->p_.emplace_back(v);
    ctx->qp_ = ctx->q_;
    ctx->qp_.insert(ctx->qp_.end(), ctx->p_.begin(), ctx->p_.end());
    for (const auto& m : ctx->qp_) ctx->ntt_.emplace_back(n, m);
    ctx->hash_ = hash_parameters(n, q, p);

    const std::size_t L = q.size() - 1;
    ctx->q_last_inv_.resize(L + 1);
    for (std::size_t l = 1; l <= L; ++l) {
        for (std::size_t i = 0; i < l; ++i) {
            const auto& qi = ctx->q_[i];
            u64 inv = math::inverse_mod(qi.reduce(ctx->q_[l].value()), qi.value());
            ctx->q_last_inv_[l].emplace_back(inv, qi.value());
        }
    }
    if (!p.empty()) {
        for (std::size_t i = 0; i <= L; ++i) {
            const auto& qi = ctx->q_[i];
            u64 p_mod = 1;
            for (const auto& pk : ctx->p_) p_mod = math::mul_mod(p_mod, qi.reduce(pk.value()), qi);
            ctx->p_mod_q_.push_back(p_mod);
            ctx->p_inv_mod_q_.emplace_back(math::inverse_mod(p_mod, qi.value()), qi.value());
        }
        const std::size_t alpha = p.size();
        ctx->mod_up_.resize(L + 1);
        for (std::size_t l = 0; l <= L; ++l) {
            const std::size_t digits = (l + 1 + alpha - 1) / alpha;
            for (std::size_t d = 0; d < digits; ++d) {
                const std::size_t begin = d * alpha, end = std::min((d + 1) * alpha, l + 1);
                std::vector<math::Modulus> from(ctx->q_.begin() + begin, ctx->q_.begin() + end);
                std::vector<math::Modulus> to;
                for (std::size_t i = 0; i <= l; ++i)
                    if (i < begin || i >= end) to.push_back(ctx->q_[i]);
                to.insert(to.end(), ctx->p_.begin(), ctx->p_.end());
                ctx->mod_up_[l].emplace_back(std::move(from), std::move(to));
            }
            ctx->mod_down_.emplace_back(
                ctx->p_, std::vector<math::Modulus>(ctx->q_.begin(), ctx->q_.begin() + l + 1));
        }
    }
    for (std::size_t l = 1; l <= L; ++l) {
        ctx->rescale_.emplace_back(
            std::vector<math::Modulus>{ctx->q_[l]},
            std::vector<math::Modulus>(ctx->q_.begin(), ctx->q_.begin() + l));
    }
    ctx->bitrev_.resize(n);
    for (std::size_t i = 0; i < n; ++i)
        ctx->bitrev_[i] = static_cast<std::uint32_t>(math::reverse_bits(i, lit.log_n));
    ctx->ffts_.resize(lit.log_n);
    return ctx;
}

std::size_t Context::digit_count(int level) const {
    if (p_.empty()) return 0;
    return (static_cast<std::size_t>(level) + p_.size()) / p_.size();
}

const math::BaseConverter& Context::mod_up_converter(int level, std::size_t digit) const {
    return mod_up_.at(level).at(digit);
}

const math::BaseConverter& Context::mod_down_converter(int level) const {
    return mod_down_.at(level);
}

const math::BaseConverter& Context::rescale_converter(int level) const {
    if (level < 1) throw LevelError("no rescale from level " + std::to_string(level));
    return rescale_.at(static_cast<std::size_t>(level) - 1);
}

const math::CkksFft& Context::fft(std::size_t slots) const {
    if (slots == 0 || (slots & (slots - 1)) != 0 || slots > max_slots()) {
        throw ParameterError(
            "slot count " + std::to_string(slots) +
            " must be a power of two no larger than N/2 = " + std::to_string(max_slots()));
    }
    const int index = __builtin_ctzll(slots);
    std::lock_guard lock(fft_mutex_);
    if (!ffts_[index]) ffts_[index] = std::make_unique<math::CkksFft>(n_, slots);
    return *ffts_[index];
}

u64 Context::galois_element_for_rotation(int steps) const {
    const long long period = static_cast<long long>(n_ / 2);
    long long k = steps % period;
    if (k < 0) k += period;
    // 5^k mod 2N by square-and-multiply: O(log k) products (2N <= 2^17, so no overflow).
    const u64 m = 2 * n_;
    u64 g = 1, base = 5;
    for (u64 e = static_cast<u64>(k); e != 0; e >>= 1) {
        if (e & 1) g = g * base % m;
        base = base * base % m;
    }
    return g;
}

std::string Context::describe() const {
    std::ostringstream out;
    out << std::fixed << std::setprecision(1);
    out << "N = 2^" << log_n_ << " (" << max_slots() << " slots), Q: " << q_.size() << " primes [";
    for (std::size_t i = 0; i < q_.size(); ++i)
        out << (i ? " " : "") << std::log2(static_cast<double>(q_[i].value()));
    out << "] bits, P: " << p_.size() << " primes [";
    for (std::size_t i = 0; i < p_.size(); ++i)
        out << (i ? " " : "") << std::log2(static_cast<double>(p_[i].value()));
    out << "] bits, log2(QP) = " << log_qp_ << ", security: ";
    if (insecure_) {
        out << "NONE (explicit opt-out)";
    } else {
        out << to_string(security_) << " (bound " << max_log_qp(log_n_, security_) << ")";
    }
    out << ", default scale 2^" << literal_.log_default_scale;
    return out.str();
}

}  // namespace henn::ckks
