// The baby-step giant-step plan for evaluating a Chebyshev series p(x) = sum_k c_k T_k(t) under
// CKKS: depth, ciphertext-ciphertext products, and the steps ChebyshevEvaluator performs. No
// encryption here (plaintext trace included), so it is cheap to call from planners.
#pragma once

#include <span>
#include <vector>

#include "henn/approx/chebyshev.hpp"

namespace henn::circuits {

// Multiplicative depth of a degree-d polynomial: ceil(log2(d + 1)) levels (0 for d = 0), the
// minimum for a Chebyshev series. Under CKKS a plaintext-scalar product needs a rescale, i.e. a
// level, like a ciphertext product; the plan below places every scalar product where it merges
// into the rescale of a ciphertext product or of a piece that has a level to spare, so the total
// stays at this minimum. The interval change t = alpha x + beta costs one more level
// (ChebyshevEvaluator::depth); the power basis of a quadratic needs one level only
// (polynomial_plan.hpp chooses).
int multiplicative_depth(int degree);

// The baby-step giant-step plan whose ciphertext-ciphertext multiplications we count (the
// encrypted evaluator, ChebyshevEvaluator, follows it and is tested to use exactly
// `ct_multiplications` and exactly `depth` levels):
//
//  * baby steps: T_i(t) for 1 <= i < 2^l (only odd i for odd p, even i for even p);
//    giant steps: T_{2^j}.
//  * each needed T_i, i >= 2, costs one ct-ct multiplication, T_1 = t is free:
//      i = 2^j:             T_i = 2 T_{i/2}^2 - 1
//      2^j < i < 2^(j+1):   T_i = 2 T_{2^j} T_{i-2^j} - T_{2^(j+1)-i}
//    (the dependencies are added to the set of needed T_i; each T_i then sits at depth
//    ceil(log2 i)).
//  * every piece has a level budget (the whole polynomial: depth). A piece of degree e < 2^l whose
//    plaintext-weighted sum of baby steps fits the budget (leaf_levels(e) <= budget) is a leaf: no
//    ct-ct product. Otherwise it is split p = q T_{2^k} + r with 2^k <= e < 2^(k+1),
//    q_0 = c_{2^k}, q_i = 2 c_{2^k+i}, r_j = c_j - c_{2^(k+1)-j}; this costs one ct-ct
//    multiplication when deg q >= 1 (q then gets budget - 1; a constant q is a scalar product
//    merged into r's sum), and r keeps the budget (deg r = 2^k - 1, or the largest index of p's
//    parity below 2^k). So the piece that carries the top degree is split below 2^l when its sum
//    would need one level too many (e.g. degree 3 with 2 levels: q = 2 c_3 T_1 + c_2 times T_2).
//  * l in [1, ceil(log2(d+1))] is the one with the fewest multiplications (ties: smallest l).
// Total: ct_multiplications = |needed T_i with i >= 2| + split_multiplications.
struct EvaluationPlan {
    int degree = 0;
    approx::Parity parity = approx::Parity::None;
    int depth = 0;
    int ct_multiplications = 0;
    int baby_step_log2 = 0;             // l
    std::vector<int> chebyshev_powers;  // every i >= 2 with T_i computed, ascending
    std::vector<int> giant_steps;       // the 2^k used to split, ascending, distinct
    int split_multiplications = 0;
};
EvaluationPlan plan_evaluation(int degree, approx::Parity parity = approx::Parity::None);
// Same, with l forced (for tests and for evaluators that want another trade-off).
EvaluationPlan plan_evaluation_with_baby_steps(int degree, approx::Parity parity,
                                               int baby_step_log2);

// Levels a plaintext-weighted sum of T_0 .. T_e takes: ceil(log2 e) for T_e, plus one for the
// scalar products (0 for a constant).
int leaf_levels(int degree);
// One step of a plan, shared by the plan builder, the tracer and the encrypted evaluator: for a
// piece of nominal degree `piece_degree` that must be ready within `levels` levels, 0 if it is a
// leaf, otherwise the giant step 2^k to split it at.
int plan_giant_step(const EvaluationPlan& plan, int piece_degree, int levels);
// The split p = q T_giant + r of a piece's Chebyshev coefficients (nominal degree
// c.size() - 1 >= giant); r has the nominal degree the plan gives it.
struct ChebyshevSplit {
    std::vector<double> quotient;   // q, degree deg p - giant
    std::vector<double> remainder;  // r
};
ChebyshevSplit split_at_giant_step(std::span<const double> c, int giant, approx::Parity parity);

// Plaintext walk-through of a plan, the reference for the encrypted evaluator: evaluates p at x
// exactly as the plan prescribes (T_i products, then the recursive splits), counting the
// ciphertext-ciphertext products and the depth in CKKS levels (T_1 = t at depth 0, T_i at
// ceil(log2 i); a product sits one above the deeper factor; a plaintext-weighted sum one above its
// deepest baby step; additions are free).
// Throws henn::InvalidArgument if p has nonzero coefficients the plan does not cover.
struct PlanTrace {
    double value = 0.0;
    int ct_multiplications = 0;
    int depth = 0;
};
PlanTrace trace_plan(const approx::ChebyshevPolynomial& p, const EvaluationPlan& plan, double x);

}  // namespace henn::circuits
