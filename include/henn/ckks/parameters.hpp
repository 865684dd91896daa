// CKKS parameters: a plain literal, validated once into an immutable Context that carries every
// precomputation (NTT tables, rescaling and key-switching constants) for every level.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "henn/math/fft.hpp"
#include "henn/math/modarith.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/rns.hpp"

namespace henn::ckks {

using math::u64;

enum class SecurityLevel { k128 = 128, k192 = 192, k256 = 256 };

std::string to_string(SecurityLevel level);

// The largest log2(Q*P) for a ring of degree 2^log_n at the given level, for a uniform ternary
// secret, from the HomomorphicEncryption.org security standard. 0 if log_n is not tabulated.
int max_log_qp(int log_n, SecurityLevel level);

struct ParametersLiteral {
    int log_n = 14;
    // The ciphertext modulus chain Q = q_0 * ... * q_L, given either as bit sizes (primes are
    // generated near 2^bits) or as explicit primes; q_0 first, q_L is dropped first.
    std::vector<int> log_q;
    std::vector<u64> q;
    // The special primes P for hybrid key switching, likewise. Each key-switching digit holds
    // |P| primes of Q, so the number of digits is ceil((L+1) / |P|).
    std::vector<int> log_p;
    std::vector<u64> p;
    double log_default_scale = 40;
    SecurityLevel security = SecurityLevel::k128;
    // Explicit, visible opt-out of the security check: only for tests and experiments.
    bool allow_insecure = false;

    // The smallest secure ring for a circuit of multiplicative `depth` at scale 2^scale_bits:
    // q_0 of first_bits, depth primes of scale_bits, and special primes for `dnum` digits
    // (0: one digit per prime of Q, the fewest special primes). Throws ParameterError if no
    // ring up to 2^16 is secure at that level.
    static ParametersLiteral for_depth(int depth, int scale_bits = 40, int first_bits = 60,
                                       SecurityLevel security = SecurityLevel::k128, int dnum = 0);
};

class Context;
using ContextPtr = std::shared_ptr<const Context>;

// Everything derived from validated parameters. Immutable and shared by every object made
// under it; safe to use from many threads.
class Context {
  public:
    // Validates the literal; throws ParameterError with a readable message.
    static ContextPtr create(const ParametersLiteral& literal);

    int log_n() const { return log_n_; }
    std::size_t n() const { return n_; }
    std::size_t max_slots() const { return n_ / 2; }
    int max_level() const { return static_cast<int>(q_.size()) - 1; }
    std::size_t q_count() const { return q_.size(); }
    std::size_t p_count() const { return p_.size(); }
    const std::vector<math::Modulus>& q() const { return q_; }
    const std::vector<math::Modulus>& p() const { return p_; }
    // Q primes followed by P primes: the basis of key-switching keys.
    const std::vector<math::Modulus>& qp() const { return qp_; }
    const math::NttTables& ntt(std::size_t qp_index) const { return ntt_[qp_index]; }
    double default_scale() const { return default_scale_; }
    double log_qp() const { return log_qp_; }
    SecurityLevel security() const { return security_; }
    bool insecure() const { return insecure_; }
    // 64-bit digest of (N, Q, P): objects carry it so mismatched parameters are detected.
    std::uint64_t parameter_hash() const { return hash_; }
    const ParametersLiteral& literal() const { return literal_; }

    // Key-switching digits at `level`: digit d covers Q primes [d*|P|, min((d+1)*|P|, level+1)).
    std::size_t digit_count(int level) const;
    // Converts digit `digit` (coefficient form, its primes at `level`) to every other prime of
    // Q_level and to P, in that order.
    const math::BaseConverter& mod_up_converter(int level, std::size_t digit) const;
    // Converts from P to Q_level.
    const math::BaseConverter& mod_down_converter(int level) const;
    // Converts from q_level to q_0..q_{level-1} (rescale's centered lift), level >= 1.
    const math::BaseConverter& rescale_converter(int level) const;
    // P^-1 mod q_i.
    const math::ShoupConstant& p_inverse_mod_q(std::size_t i) const { return p_inv_mod_q_[i]; }
    // q_level^-1 mod q_i, i < level.
    const math::ShoupConstant& q_last_inverse(int level, std::size_t i) const {
        return q_last_inv_[level][i];
    }
    // P mod q_i, the gadget factor of key-switching keys.
    u64 p_mod_q(std::size_t i) const { return p_mod_q_[i]; }
    // FFT for the given power-of-two slot count (<= N/2).
    const math::CkksFft& fft(std::size_t slots) const;
    // bitrev(i) for i < N, used by automorphisms in NTT form.
    const std::vector<std::uint32_t>& bit_reversal() const { return bitrev_; }
    // Galois elements: rotation by `steps` slots to the left (negative: right), conjugation.
    u64 galois_element_for_rotation(int steps) const;
    u64 galois_element_for_conjugation() const { return 2 * n_ - 1; }

    // A readable summary: ring, chain bit sizes, log2(QP), security, slots.
    std::string describe() const;

  private:
    Context() = default;
    ParametersLiteral literal_;
    int log_n_ = 0;
    std::size_t n_ = 0;
    std::vector<math::Modulus> q_, p_, qp_;
    std::vector<math::NttTables> ntt_;
    double default_scale_ = 0;
    double log_qp_ = 0;
    SecurityLevel security_ = SecurityLevel::k128;
    bool insecure_ = false;
    std::uint64_t hash_ = 0;
    std::vector<std::vector<math::BaseConverter>> mod_up_;  // [level][digit]
    std::vector<math::BaseConverter> mod_down_;             // [level]
    std::vector<math::BaseConverter> rescale_;              // [level - 1]
    std::vector<math::ShoupConstant> p_inv_mod_q_;
    std::vector<std::vector<math::ShoupConstant>> q_last_inv_;
    std::vector<u64> p_mod_q_;
    // Built on first use per slot count (each holds 2N roots): guarded, so still thread-safe.
    mutable std::mutex fft_mutex_;
    mutable std::vector<std::unique_ptr<math::CkksFft>> ffts_;  // index log2(slots)
    std::vector<std::uint32_t> bitrev_;
};

}  // namespace henn::ckks
