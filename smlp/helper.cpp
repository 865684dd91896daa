#include "henn/smlp/helper.hpp"

#include <cstdint>
#include <string>

namespace henn::smlp {

using paillier::PaillierError;

Helper::Helper(paillier::SecretKey key, HelperLimits limits)
    : key_(std::move(key)), limits_(limits) {}

void Helper::check_count(std::size_t count) const {
    if (count > limits_.max_ciphertexts_per_request)
        throw SmlpError("smlp helper: request of " + std::to_string(count) +
                        " ciphertexts exceeds the limit of " +
                        std::to_string(limits_.max_ciphertexts_per_request));
}

void Helper::check_ciphertexts(const std::vector<Ciphertext>& cts) const {
    try {
        for (const auto& c : cts) key_.public_key().check_ciphertext(c);
    } catch (const PaillierError& e) {
        throw SmlpError(std::string("smlp helper: malformed ciphertext: ") + e.what());
    }
}

namespace {
// Decrypts a plaintext announced to be in [0, 2^bits); a larger one is a protocol violation.
mpz_class decrypt_bounded(const paillier::SecretKey& key, const Ciphertext& c, unsigned bits,
                          const char* what) {
    try {
        return key.decrypt_bounded(c, bits);
    } catch (const PaillierError&) {
        throw SmlpError(std::string("smlp helper: ") + what +
                        ": plaintext out of range (fixed-point overflow or malformed request)");
    }
}
}  // namespace

MultiplyResponse Helper::multiply(const MultiplyRequest& request) const {
    if (request.operand_bits == 0 ||
        std::uint64_t{request.operand_bits} + 2 >= key_.public_key().modulus_bits() / 2)
        throw SmlpError("smlp helper: multiply: operand bound out of range");
    std::size_t total = 0;
    for (const auto& p : request.products) {
        p.validate();
        total += p.left.size() + p.right.size() + p.result_size();
        check_count(total);
        check_ciphertexts(p.left);
        check_ciphertexts(p.right);
    }
    const auto& pk = key_.public_key();
    MultiplyResponse response;
    for (const auto& p : request.products) {
        std::vector<mpz_class> left, right;
        left.reserve(p.left.size());
        right.reserve(p.right.size());
        for (const auto& c : p.left)
            left.push_back(decrypt_bounded(key_, c, request.operand_bits, "multiply"));
        for (const auto& c : p.right)
            right.push_back(decrypt_bounded(key_, c, request.operand_bits, "multiply"));
        std::vector<Ciphertext> result;
        result.reserve(p.result_size());
        mpz_class sum;
        if (p.kind == MaskedProduct::Kind::matrix) {
            for (std::size_t i = 0; i < p.rows; ++i)
                for (std::size_t k = 0; k < p.cols; ++k) {
                    sum = 0;
                    for (std::size_t j = 0; j < p.inner; ++j)
                        sum += left[i * p.inner + j] * right[j * p.cols + k];
                    result.push_back(pk.encrypt(pk.to_residue(sum)));
                }
        } else {
            for (std::size_t i = 0; i < left.size(); ++i)
                result.push_back(pk.encrypt(pk.to_residue(left[i] * right[i])));
        }
        response.results.push_back(std::move(result));
    }
    return response;
}

namespace {
void check_masking(const paillier::PublicKey& key, unsigned value_bits, unsigned statistical_bits,
                   const char* what) {
    // In 64 bits: a value_bits near 2^32 must not wrap around to a small sum.
    if (statistical_bits < 20 || statistical_bits > 128 || value_bits == 0 ||
        std::uint64_t{value_bits} + statistical_bits + 4 >= key.modulus_bits() / 2)
        throw SmlpError(std::string("smlp helper: ") + what + ": masking parameters out of range");
}
}  // namespace

ReluResponse Helper::relu(const ReluRequest& request) const {
    const auto& pk = key_.public_key();
    check_masking(pk, request.value_bits, request.statistical_bits, "relu");
    if (request.shift > request.value_bits)
        throw SmlpError("smlp helper: relu: shift exceeds value_bits");
    if (request.probes.size() != request.carriers.size())
        throw SmlpError("smlp helper: relu: probes and carriers differ in number");
    check_count(2 * request.probes.size());
    check_ciphertexts(request.probes);
    check_ciphertexts(request.carriers);
    const unsigned bound = request.value_bits + request.statistical_bits + 1;
    const mpz_class zero_point = mpz_class(1) << (bound - 1);  // probes are offset by 2^(bound-1)
    ReluResponse response;
    for (std::size_t i = 0; i < request.probes.size(); ++i) {
        const bool positive =
            decrypt_bounded(key_, request.probes[i], bound, "relu probe") > zero_point;
        const mpz_class carrier = decrypt_bounded(key_, request.carriers[i], bound, "relu carrier");
        response.steps.push_back(pk.encrypt(positive ? 1 : 0));
        response.relus.push_back(
            pk.encrypt(positive ? mpz_class(carrier >> request.shift) : mpz_class(0)));
    }
    return response;
}

RescaleResponse Helper::rescale(const RescaleRequest& request) const {
    const auto& pk = key_.public_key();
    check_masking(pk, request.value_bits, request.statistical_bits, "rescale");
    if (request.shifts.size() != request.values.size())
        throw SmlpError("smlp helper: rescale: one shift per value expected");
    for (unsigned shift : request.shifts)
        if (shift > request.value_bits)
            throw SmlpError("smlp helper: rescale: shift exceeds value_bits");
    check_count(request.values.size());
    check_ciphertexts(request.values);
    const unsigned bound = request.value_bits + request.statistical_bits + 1;
    RescaleResponse response;
    for (std::size_t i = 0; i < request.values.size(); ++i) {
        const mpz_class carrier = decrypt_bounded(key_, request.values[i], bound, "rescale");
        response.values.push_back(pk.encrypt(carrier >> request.shifts[i]));
    }
    return response;
}

void LocalHelperLink::count(std::size_t sent, std::size_t received) {
    const std::uint64_t width = helper_.public_key().ciphertext_bytes();
    std::lock_guard lock(mutex_);
    traffic_.bytes_sent += sent * width;
    traffic_.bytes_received += received * width;
    traffic_.rounds += 1;
}

MultiplyResponse LocalHelperLink::multiply(const MultiplyRequest& request) {
    MultiplyResponse response = helper_.multiply(request);
    std::size_t sent = 0, received = 0;
    for (const auto& p : request.products) sent += p.left.size() + p.right.size();
    for (const auto& r : response.results) received += r.size();
    count(sent, received);
    return response;
}

ReluResponse LocalHelperLink::relu(const ReluRequest& request) {
    ReluResponse response = helper_.relu(request);
    count(2 * request.probes.size(), 2 * response.steps.size());
    return response;
}

RescaleResponse LocalHelperLink::rescale(const RescaleRequest& request) {
    RescaleResponse response = helper_.rescale(request);
    count(request.values.size(), response.values.size());
    return response;
}

Traffic LocalHelperLink::traffic() const {
    std::lock_guard lock(mutex_);
    return traffic_;
}

}  // namespace henn::smlp
