// Polynomials in the Chebyshev basis of an interval [a, b], and the cost of evaluating them
// under homomorphic encryption.
//
// Every polynomial here is p(x) = sum_k c_k T_k(t), with t = (2x - a - b) / (b - a) the affine map
// of [a, b] onto [-1, 1]. The Chebyshev basis stays well conditioned up to high degree; the power
// basis of x does not, so to_power_basis() is an export format only, never used for computing.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace henn::approx {

struct Interval {
    double lo = -1.0;
    double hi = 1.0;

    double width() const { return hi - lo; }
    double midpoint() const { return 0.5 * (lo + hi); }
    // Maps x in [lo, hi] onto t in [-1, 1], and back.
    double to_unit(double x) const { return (2.0 * x - lo - hi) / (hi - lo); }
    double from_unit(double t) const { return 0.5 * (hi - lo) * t + 0.5 * (lo + hi); }
    // Throws std::invalid_argument unless lo < hi and both are finite.
    void validate() const;
};

// Symmetry about the interval's midpoint (for a symmetric interval [-l, l], parity in x).
enum class Parity { None, Even, Odd };
std::string parity_name(Parity parity);

class ChebyshevPolynomial {
public:
    ChebyshevPolynomial() = default;
    // coefficients[k] multiplies T_k(t); at least one coefficient. Validates the interval and that
    // the coefficients are finite.
    ChebyshevPolynomial(std::vector<double> coefficients, Interval interval);

    const std::vector<double>& coefficients() const { return coefficients_; }
    const Interval& interval() const { return interval_; }
    // Nominal degree: number of coefficients - 1 (trailing zeros are kept: the caller asked for
    // this degree, and the encrypted evaluator's plan depends on it).
    int degree() const { return static_cast<int>(coefficients_.size()) - 1; }

    // Clenshaw recurrence in t. Valid for any x; outside [a, b] the polynomial grows fast.
    double evaluate(double x) const;
    std::vector<double> evaluate(std::span<const double> xs) const;

    // Ascending powers of x on the original interval: p(x) = sum_j a_j x^j. Computed in long
    // double, but high degree on wide or off-centre intervals still loses precision (the
    // coefficients grow like (2 / (b - a))^d 2^d); see power_basis_roundoff().
    std::vector<double> to_power_basis() const;
    // Ascending powers of t in [-1, 1] (the variable an encrypted evaluator sees after the
    // interval change).
    std::vector<double> to_unit_power_basis() const;
    // Largest |p_power(x) - p_chebyshev(x)| over a dense grid of [a, b], p_power evaluated from
    // to_power_basis() by Horner in double: the price of exporting to the power basis.
    double power_basis_roundoff() const;

    // Odd/even in t when the other coefficients are all <= tolerance * max |c_k|.
    Parity parity(double relative_tolerance = 1e-9) const;
    // Same, ignoring c_0: a constant costs only a plaintext addition under encryption, so an
    // odd polynomial plus a constant (sigmoid's approximations on [-l, l]) is evaluated as odd.
    Parity parity_except_constant(double relative_tolerance = 1e-9) const;
    // Copy with the coefficients that break `parity` set to exactly zero (c_0 is kept when
    // keep_constant is true).
    ChebyshevPolynomial with_parity(Parity parity, bool keep_constant = false) const;

    // d/dx and an antiderivative in x (constant chosen so that it vanishes at x = a), same interval.
    ChebyshevPolynomial derivative() const;
    ChebyshevPolynomial antiderivative() const;

    // Chebyshev interpolant of degree `degree` at the Chebyshev points of the first kind.
    template <typename F>
    static ChebyshevPolynomial interpolate(F&& f, int degree, Interval interval);
    static ChebyshevPolynomial from_power_basis(std::span<const double> ascending_powers_of_x,
                                                Interval interval);

private:
    static ChebyshevPolynomial interpolate_values(std::span<const double> values_at_nodes,
                                                  Interval interval);
    static std::vector<double> chebyshev_nodes(int count, Interval interval);

    std::vector<double> coefficients_{0.0};
    Interval interval_{};
};

template <typename F>
ChebyshevPolynomial ChebyshevPolynomial::interpolate(F&& f, int degree, Interval interval) {
    interval.validate();
    const std::vector<double> nodes = chebyshev_nodes(degree + 1, interval);
    std::vector<double> values(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) values[i] = f(nodes[i]);
    return interpolate_values(values, interval);
}

// ---- Cost under encryption -------------------------------------------------------------------
//
// Multiplicative depth of a degree-d polynomial: ceil(log2(d + 1)) levels (0 for d = 0), the
// minimum. Under CKKS a plaintext-scalar product needs a rescale, i.e. a level, like a
// ciphertext product; the plan below places every scalar product where it merges into the rescale
// of a ciphertext product or of a piece that has a level to spare, so the total stays at this
// minimum. The interval change t = alpha x + beta may cost one more level.
int multiplicative_depth(int degree);

// The baby-step giant-step plan whose ciphertext-ciphertext multiplications we count (the
// encrypted evaluator, henn::circuits, follows it and is tested to use exactly
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
    Parity parity = Parity::None;
    int depth = 0;
    int ct_multiplications = 0;
    int baby_step_log2 = 0;                // l
    std::vector<int> chebyshev_powers;     // every i >= 2 with T_i computed, ascending
    std::vector<int> giant_steps;          // the 2^k used to split, ascending, distinct
    int split_multiplications = 0;
};
EvaluationPlan plan_evaluation(int degree, Parity parity = Parity::None);
// Same, with l forced (for tests and for evaluators that want another trade-off).
EvaluationPlan plan_evaluation_with_baby_steps(int degree, Parity parity, int baby_step_log2);

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
ChebyshevSplit split_at_giant_step(std::span<const double> c, int giant, Parity parity);

// Plaintext walk-through of a plan, the reference for the encrypted evaluator: evaluates p at x
// exactly as the plan prescribes (T_i products, then the recursive splits), counting the
// ciphertext-ciphertext products and the depth in CKKS levels (T_1 = t at depth 0, T_i at
// ceil(log2 i); a product sits one above the deeper factor; a plaintext-weighted sum one above its
// deepest baby step; additions are free).
// Throws std::invalid_argument if p has nonzero coefficients the plan does not cover.
struct PlanTrace {
    double value = 0.0;
    int ct_multiplications = 0;
    int depth = 0;
};
PlanTrace trace_plan(const ChebyshevPolynomial& p, const EvaluationPlan& plan, double x);

}  // namespace henn::approx
