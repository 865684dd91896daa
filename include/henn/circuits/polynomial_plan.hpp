// The one cost model of an encrypted polynomial: which basis henn evaluates it in, how many levels
// that consumes and how many ciphertext-ciphertext products it performs. evaluate_polynomial
// (polynomial.hpp) follows plan_polynomial exactly, and `henn inspect` (nn::analyze) and
// `henn approx` report plan_polynomial's figures, so the three always agree (tests/circuits and
// tests/nn check it on real encryptions).
//
// The choice, for the effective degree d (trailing zero coefficients dropped):
//  * d = 0: a constant, depth 0, no product;
//  * d = 1: one scalar product, depth 1, no product (the interval change folds into it);
//  * d = 2: power basis, depth 1, one product: x^2 is computed once and a_2 is folded into the
//    scale of the single rescale (Chebyshev would need T_2 = 2t^2 - 1 and a scalar product: 2
//    levels, 3 with the interval change);
//  * d = 3: power basis, x^2 (a_3 x + a_2) + a_1 x + a_0, depth 2, two products, when that is not
//    deeper than the Chebyshev plan (it never is: that one is at least 2 levels);
//  * d >= 4: ChebyshevEvaluator's baby-step giant-step plan (chebyshev_plan.hpp) in the Chebyshev
//    basis of [lo, hi]: depth ceil(log2(d + 1)), plus one level for the interval change
//    t = (2x - lo - hi) / (hi - lo) unless [lo, hi] = [-1, 1]; parity (ignoring the constant)
//    halves the baby steps.
#pragma once

#include <span>
#include <string>

#include "henn/approx/chebyshev.hpp"
#include "henn/circuits/chebyshev_plan.hpp"

namespace henn::circuits {

enum class PolynomialBasis { power, chebyshev };
std::string basis_name(PolynomialBasis basis);  // "power", "chebyshev"

struct PolynomialPlan {
    PolynomialBasis basis = PolynomialBasis::power;
    int degree = 0;              // effective degree (trailing zeros dropped)
    int depth = 0;               // levels consumed, exactly what evaluate_polynomial consumes
    int ct_multiplications = 0;  // ciphertext-ciphertext products per element, exact
    // The interval the polynomial is valid on; for the Chebyshev basis, the one it is expanded in
    // ([-1, 1] when none was given, see plan_polynomial).
    double interval_lo = -1, interval_hi = 1;
    // basis == chebyshev: the baby-step giant-step plan evaluate_polynomial follows (parity,
    // baby steps, the T_i it computes); default-constructed for the power basis.
    EvaluationPlan chebyshev;

    std::string describe() const;  // e.g. "degree 2, power basis, depth 1, 1 product"
};

// Power coefficients a_0 + a_1 x + ... (ascending) valid on [lo, hi]. Power basis for degree <= 2
// (and degree 3 if it is not deeper than Chebyshev), Chebyshev otherwise; degree 0/1 cost no
// product. lo == hi means no interval is known (a model's imported polynomial): a Chebyshev
// expansion then uses [-1, 1], which needs no interval change. Throws henn::InvalidArgument for no
// coefficients, non-finite ones, lo > hi or non-finite bounds.
PolynomialPlan plan_polynomial(std::span<const double> power_coefficients, double lo, double hi);

// The same choice for a polynomial given in the Chebyshev basis of its interval (what
// approx::approximate returns; at high degree the power coefficients lose precision, the Chebyshev
// ones do not). Degree and parity are p's as ChebyshevEvaluator sees them (parity within 1e-9 of
// the largest coefficient, exact trailing zeros dropped).
PolynomialPlan plan_polynomial(const approx::ChebyshevPolynomial& p);

}  // namespace henn::circuits
