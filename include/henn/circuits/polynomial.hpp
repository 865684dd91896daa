// Encrypted polynomial evaluation under CKKS.
//
// evaluate_polynomial is the one entry point: it evaluates in the basis plan_polynomial chooses
// (polynomial_plan.hpp), consuming exactly the plan's depth and products. The two evaluators it
// dispatches to are public too:
//
// ChebyshevEvaluator evaluates p(x) = sum_k c_k T_k(t), t = (2x - a - b) / (b - a), on a ciphertext
// in ceil(log2(d + 1)) levels (one more for the interval change when [a, b] != [-1, 1] and d >= 2),
// following plan_evaluation's baby-step giant-step plan (chebyshev_plan.hpp) and performing exactly
// its ct_multiplications ciphertext-ciphertext products. Scales are managed so that every addition
// meets at exactly equal scales without spending a level on alignment, and the result lands at the
// requested scale exactly:
//  * T_i at depth j (i.e. ceil(log2 i) = j) all carry one scale sigma_j, with
//    sigma_{j+1} = sigma_j^2 / q, q the prime that the products at that depth are rescaled by; a
//    shallower T_i used in a product at depth j is first brought to sigma_j (constant product and
//    rescale, from a level it has to spare);
//  * the plan's pieces are evaluated top down, each one told the level and scale it must produce:
//    a quotient multiplied by T_g gets scale (target * q) / sigma(T_g), and the plaintext
//    coefficients of a leaf are encoded at (target * q) / sigma(T_i), so the leaf's sum, the
//    product above it and the remainder all meet at target * q before a single rescale.
//
// evaluate_power_basis evaluates the small activations used by CryptoNets (x^2), CryptoDL
// (quadratics, cubics) in the power basis: degree 2 at depth 1, degree 3 at depth 2.
#pragma once

#include <span>
#include <vector>

#include "henn/approx/chebyshev.hpp"
#include "henn/circuits/chebyshev_plan.hpp"
#include "henn/circuits/polynomial_plan.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/objects.hpp"

namespace henn::circuits {

// What an evaluation did, for tests and benchmarks.
struct EvaluationReport {
    int ct_multiplications = 0;  // ciphertext-ciphertext products (each relinearized)
    int levels_consumed = 0;     // input level - output level
    int rescales = 0;
    EvaluationPlan plan;  // the Chebyshev plan followed (power basis: degree and depth only)
};

// Evaluates following plan_polynomial exactly (depth and product count match the plan; a
// mismatch would be a bug and throws henn::InternalError). target_scale 0 means: whatever scale the
// chosen path lands on (the result's .scale says it): x.scale for every path but the degree-2
// power basis, which lands at x.scale^2 / (|a_2| q), q the prime at x's level (a_2 is folded into
// that scale); a nonzero target_scale must then be that scale (else henn::InvalidArgument).
// The Chebyshev path lands at target_scale exactly, whatever it is (>= 1).
// Throws LevelError when x has fewer than plan.depth levels.
ckks::Ciphertext evaluate_polynomial(const ckks::Evaluator& evaluator, const ckks::Ciphertext& x,
                                     std::span<const double> power_coefficients, double lo,
                                     double hi, double target_scale = 0,
                                     EvaluationReport* report = nullptr);
// The same for a polynomial in the Chebyshev basis of its interval (plan_polynomial(p)).
ckks::Ciphertext evaluate_polynomial(const ckks::Evaluator& evaluator, const ckks::Ciphertext& x,
                                     const approx::ChebyshevPolynomial& p, double target_scale = 0,
                                     EvaluationReport* report = nullptr);

class ChebyshevEvaluator {
  public:
    // Keeps a reference: the evaluator (with a relinearization key) must outlive this object.
    explicit ChebyshevEvaluator(const ckks::Evaluator& evaluator);

    // p evaluated slot-wise on x (real slots in p's interval; outside it p grows fast). The result
    // has scale `target_scale` (0: x.scale) and level x.level - depth(p). Throws LevelError if x
    // has fewer levels than depth(p), ScaleError if the target scale is not usable.
    ckks::Ciphertext evaluate(const ckks::Ciphertext& x, const approx::ChebyshevPolynomial& p,
                              double target_scale = 0, EvaluationReport* report = nullptr) const;

    // The plan evaluate() follows: at p's effective degree (trailing zero coefficients dropped) and
    // parity (ignoring the constant term, which costs nothing).
    static EvaluationPlan plan(const approx::ChebyshevPolynomial& p);
    // Levels evaluate() consumes: multiplicative_depth of the effective degree, plus one for the
    // interval change when [a, b] != [-1, 1] and the effective degree is at least 2.
    static int depth(const approx::ChebyshevPolynomial& p);

  private:
    const ckks::Evaluator& evaluator_;
};

// The power basis for degree <= 3, ascending coefficients a_0 + a_1 x + a_2 x^2 + a_3 x^3.
//  * degree 1: one level, result at target_scale (0: x.scale).
//  * degree 2: one level and one product. The leading coefficient cannot be folded into the
//    single rescale as an encoded constant, so it is folded into the scale instead: the result's
//    scale is x.scale^2 / (|a_2| q), q the prime at x's level (for the CryptoNets square, a_2 = 1:
//    x.scale^2 / q). target_scale must be 0.
//  * degree 3: two levels and two products, result at target_scale (0: x.scale).
// Throws henn::InvalidArgument for more than 4 coefficients or a zero/non-finite leading one.
ckks::Ciphertext evaluate_power_basis(const ckks::Evaluator& evaluator, const ckks::Ciphertext& x,
                                      std::span<const double> ascending_coefficients,
                                      double target_scale = 0, EvaluationReport* report = nullptr);

}  // namespace henn::circuits
