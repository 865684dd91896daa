// The CKKS canonical embedding for n slots of a ring of degree N (n <= N/2).
//
// Slot j of a real polynomial m(X) is m(zeta^(5^j mod 2N)), zeta = exp(i*pi/N): with this order,
// the automorphism X -> X^(5^k) rotates slots left by k and X -> X^(2N-1) conjugates them.
// Internally the transforms use bit-reversed order, like the NTT.
#pragma once

#include <complex>
#include <cstddef>
#include <vector>

namespace henn::math {

class CkksFft {
  public:
    // ring_degree N (power of two >= 4), slots n (power of two, 1 <= n <= N/2).
    CkksFft(std::size_t ring_degree, std::size_t slots);

    std::size_t slots() const { return slots_; }
    std::size_t ring_degree() const { return ring_degree_; }

    // values (n slots) -> w such that the real polynomial with coefficients
    // c[k*g] = Re w[k], c[k*g + N/2] = Im w[k] (g = N/(2n)) decodes to values. In place.
    void embed_inverse(std::vector<std::complex<double>>& values) const;
    // The inverse of embed_inverse: w -> slot values. In place.
    void embed(std::vector<std::complex<double>>& values) const;

  private:
    std::size_t ring_degree_;
    std::size_t slots_;
    std::size_t m_;                            // 2N, the order of the roots
    std::vector<std::complex<double>> roots_;  // exp(2*pi*i*k/M), k in [0, M]
    std::vector<std::size_t> rotation_group_;  // 5^j mod M, j in [0, n)
};

}  // namespace henn::math
