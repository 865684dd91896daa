#include "henn/math/random.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "henn/error.hpp"

namespace henn::math {

Seed os_random_seed() {
    Seed seed{};
    std::size_t filled = 0;
    while (filled < seed.size()) {
        ssize_t got = getrandom(seed.data() + filled, seed.size() - filled, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            throw ::henn::Error(ErrorCategory::crypto,
                                std::string("getrandom failed: ") + std::strerror(errno));
        }
        filled += static_cast<std::size_t>(got);
    }
    return seed;
}

void secure_wipe(void* data, std::size_t size) {
    if (data != nullptr && size != 0) OPENSSL_cleanse(data, size);
}

Seed test_only_seed(std::uint64_t value) {
    Seed seed{};
    for (int i = 0; i < 8; ++i) seed[i] = static_cast<std::uint8_t>(value >> (8 * i));
    seed[31] = 0xA5;  // never all-zero
    return seed;
}

struct Prng::CipherState {
    EVP_CIPHER_CTX* ctx = nullptr;
    ~CipherState() { EVP_CIPHER_CTX_free(ctx); }
};

Prng::Prng(const Seed& seed, std::uint64_t stream) : state_(std::make_unique<CipherState>()) {
    state_->ctx = EVP_CIPHER_CTX_new();
    if (state_->ctx == nullptr)
        throw ::henn::Error(ErrorCategory::crypto, "cannot allocate an AES context");
    // The key is the seed; the counter block is (stream, 0), big-endian, so streams never
    // overlap before 2^64 blocks.
    std::array<std::uint8_t, 16> iv{};
    for (int i = 0; i < 8; ++i) iv[i] = static_cast<std::uint8_t>(stream >> (56 - 8 * i));
    if (EVP_EncryptInit_ex(state_->ctx, EVP_aes_256_ctr(), nullptr, seed.data(), iv.data()) != 1) {
        throw ::henn::Error(ErrorCategory::crypto, "AES-256-CTR initialization failed");
    }
    position_ = buffer_.size();
}

Prng Prng::from_os() {
    Seed seed = os_random_seed();
    Prng prng(seed);
    secure_wipe(seed.data(), seed.size());
    return prng;
}

Prng::~Prng() {
    secure_wipe(buffer_.data(), buffer_.size());
}
Prng::Prng(Prng&& other) noexcept
    : state_(std::move(other.state_)), buffer_(other.buffer_), position_(other.position_) {
    secure_wipe(other.buffer_.data(), other.buffer_.size());
}
Prng& Prng::operator=(Prng&& other) noexcept {
    state_ = std::move(other.state_);
    buffer_ = other.buffer_;
    position_ = other.position_;
    secure_wipe(other.buffer_.data(), other.buffer_.size());
    return *this;
}

void Prng::refill() {
    // The key stream is AES-CTR applied to zeros.
    static const std::array<std::uint8_t, 4096> zeros{};
    int out_len = 0;
    if (EVP_EncryptUpdate(state_->ctx, buffer_.data(), &out_len, zeros.data(),
                          static_cast<int>(zeros.size())) != 1 ||
        out_len != static_cast<int>(buffer_.size())) {
        throw ::henn::Error(ErrorCategory::crypto, "AES-256-CTR key stream failed");
    }
    position_ = 0;
}

void Prng::fill(std::uint8_t* out, std::size_t size) {
    // Whole blocks straight into `out` when the buffer is spent (the cipher then sits on a block
    // boundary, so the stream is the same as through the buffer): no copy, no wipe of a buffer.
    if (position_ == buffer_.size() && size >= buffer_.size()) {
        const std::size_t direct = size / 16 * 16;
        std::memset(out, 0, direct);
        for (std::size_t at = 0; at < direct;) {
            const int chunk = static_cast<int>(std::min<std::size_t>(direct - at, 1 << 30));
            int out_len = 0;
            if (EVP_EncryptUpdate(state_->ctx, out + at, &out_len, out + at, chunk) != 1 ||
                out_len != chunk) {
                throw ::henn::Error(ErrorCategory::crypto, "AES-256-CTR key stream failed");
            }
            at += static_cast<std::size_t>(chunk);
        }
        out += direct;
        size -= direct;
    }
    while (size > 0) {
        if (position_ == buffer_.size()) refill();
        std::size_t take = std::min(size, buffer_.size() - position_);
        std::memcpy(out, buffer_.data() + position_, take);
        std::memset(buffer_.data() + position_, 0, take);
        position_ += take;
        out += take;
        size -= take;
    }
}

std::uint64_t Prng::next_u64() {
    std::uint64_t v;
    fill(reinterpret_cast<std::uint8_t*>(&v), sizeof v);
    return v;
}

void sample_uniform(Prng& prng, const Modulus& q, u64* out, std::size_t n) {
    // Rejection sampling on the smallest power-of-two range covering q: unbiased. The stream is
    // drawn in one block; each rejected word is replaced by the next words of the stream after
    // the block, in order (the definition of what a seed expands to). A prime just above a power
    // of two rejects half its words, so the redraws are taken in blocks too: a block of as many
    // words as positions still open is always used up (each word settles or fails the first open
    // position), so the stream is read exactly as one word at a time would read it.
    const u64 mask = (q.bits() == 64) ? ~u64{0} : ((u64{1} << q.bits()) - 1);
    prng.fill(reinterpret_cast<std::uint8_t*>(out), n * sizeof(u64));
    std::vector<std::size_t> open;
    for (std::size_t i = 0; i < n; ++i) {
        out[i] &= mask;
        if (out[i] >= q.value()) open.push_back(i);
    }
    std::vector<u64> words;
    std::size_t first = 0;  // open[first..] are still open
    while (first < open.size()) {
        words.resize(open.size() - first);
        prng.fill(reinterpret_cast<std::uint8_t*>(words.data()), words.size() * sizeof(u64));
        for (const u64 word : words) {
            const u64 candidate = word & mask;
            if (candidate < q.value()) out[open[first++]] = candidate;
        }
    }
}

bool uniform_prefix_matches(Prng& prng, const Modulus& q, const u64* values, std::size_t count) {
    const u64 mask = (q.bits() == 64) ? ~u64{0} : ((u64{1} << q.bits()) - 1);
    std::vector<u64> draws(count);
    prng.fill(reinterpret_cast<std::uint8_t*>(draws.data()), count * sizeof(u64));
    for (std::size_t i = 0; i < count; ++i) {
        const u64 candidate = draws[i] & mask;
        if (candidate < q.value() && values[i] != candidate) return false;
    }
    return true;
}

void sample_ternary(Prng& prng, std::int8_t* out, std::size_t n) {
    std::array<std::uint8_t, 256> bytes;
    std::size_t used = bytes.size();
    for (std::size_t i = 0; i < n; ++i) {
        std::uint8_t b;
        do {  // 255 is rejected so that b mod 3 is uniform
            if (used == bytes.size()) {
                prng.fill(bytes.data(), bytes.size());
                used = 0;
            }
            b = bytes[used++];
        } while (b == 255);
        out[i] = static_cast<std::int8_t>(b % 3) - 1;
    }
    secure_wipe(bytes.data(), bytes.size());
}

namespace {
// Cumulative distribution of |x| for the rounded Gaussian, as 63-bit fixed point: entry k is
// P(|X| <= k) * 2^63 (with X = 0 counted once).
std::vector<std::uint64_t> gaussian_cdf_table(double sigma, int bound) {
    std::vector<long double> weights(bound + 1);
    long double total = 0;
    for (int k = 0; k <= bound; ++k) {
        long double w = std::exp(-static_cast<long double>(k) * k / (2.0L * sigma * sigma));
        weights[k] = (k == 0) ? w : 2 * w;
        total += weights[k];
    }
    std::vector<std::uint64_t> table(bound + 1);
    long double cumulative = 0;
    for (int k = 0; k <= bound; ++k) {
        cumulative += weights[k] / total;
        long double scaled = cumulative * 9223372036854775808.0L;  // 2^63
        table[k] = scaled >= 9223372036854775807.0L ? (std::uint64_t{1} << 63)
                                                    : static_cast<std::uint64_t>(scaled);
    }
    table[bound] = std::uint64_t{1} << 63;
    return table;
}
}  // namespace

void sample_gaussian(Prng& prng, std::int8_t* out, std::size_t n, double sigma, int bound) {
    if (!(sigma > 0) || bound < 1 || bound > 127) {
        throw InvalidArgument("invalid Gaussian parameters");
    }
    static std::mutex cache_mutex;
    static double cached_sigma = -1;
    static int cached_bound = -1;
    static std::vector<std::uint64_t> cached_table;
    std::vector<std::uint64_t> table;
    {
        std::lock_guard lock(cache_mutex);
        if (cached_sigma != sigma || cached_bound != bound) {
            cached_table = gaussian_cdf_table(sigma, bound);
            cached_sigma = sigma;
            cached_bound = bound;
        }
        table = cached_table;
    }
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t r = prng.next_u64();
        const std::uint64_t u = r >> 1;  // 63 uniform bits
        const std::uint64_t sign = r & 1;
        // |x| = number of table entries <= u, counted over the whole table (no early exit).
        int magnitude = 0;
        for (int k = 0; k < bound; ++k) magnitude += static_cast<int>(table[k] <= u);
        const int value = sign ? -magnitude : magnitude;
        out[i] = static_cast<std::int8_t>(value);
    }
}

}  // namespace henn::math
