// Encoding of real or complex vectors into plaintexts (the canonical embedding), and back.
#pragma once

#include <complex>
#include <span>
#include <vector>

#include "henn/ckks/objects.hpp"
#include "henn/ckks/parameters.hpp"

namespace henn::ckks {

class Encoder {
  public:
    explicit Encoder(ContextPtr context);

    // Encodes `values` into `slots` slots (0: N/2; otherwise a power of two >= values.size()),
    // padding with zeros, at `level` (-1: the top level) and `scale` (0: the default scale).
    // Throws ScaleError if a coefficient would not fit the modulus at that level.
    Plaintext encode(std::span<const std::complex<double>> values, int level = -1, double scale = 0,
                     std::size_t slots = 0) const;
    Plaintext encode(std::span<const double> values, int level = -1, double scale = 0,
                     std::size_t slots = 0) const;
    // The same constant in every slot.
    Plaintext encode_constant(std::complex<double> value, int level = -1, double scale = 0,
                              std::size_t slots = 0) const;

    std::vector<std::complex<double>> decode(const Plaintext& plaintext) const;
    std::vector<double> decode_real(const Plaintext& plaintext) const;

    const ContextPtr& context() const { return context_; }

  private:
    ContextPtr context_;
};

// Precision of decoded values against a reference, in bits: -log2 of the absolute error.
struct PrecisionStats {
    double min_bits = 0;     // worst slot
    double mean_bits = 0;    // -log2 of the mean absolute error
    double median_bits = 0;  // median slot
    double max_error = 0;    // largest absolute error
    double mean_error = 0;
    std::size_t count = 0;
};
PrecisionStats precision(std::span<const std::complex<double>> actual,
                         std::span<const std::complex<double>> expected);
PrecisionStats precision(std::span<const double> actual, std::span<const double> expected);

}  // namespace henn::ckks
