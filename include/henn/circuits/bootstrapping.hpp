// CKKS bootstrapping: refreshes a ciphertext at the bottom of the modulus chain into one with
// levels to spare, so that circuits deeper than the chain can run.
//
// One interface, two implementations:
//  * SecretKeyBootstrapperForTests decrypts and re-encrypts (it holds the secret key, so it is
//    for tests and for developing applications against the interface only);
//  * CkksBootstrapper is the real, homomorphic one (evaluation keys only):
//      ModRaise      the level-0 ciphertext read as one over the whole chain: it then decrypts to
//                    t = m*Delta + e + q_0*I, I a small integer polynomial (|I| <= K); by default
//                    under an ephemeral sparse secret (encapsulation), so that |I| <= K always;
//      CoeffsToSlots the inverse canonical embedding, factored into a few levels of sparse DFT
//                    stages (LinearTransform: BSGS with double hoisting), leaving t/q_0 in the
//                    slots (real and imaginary halves of the coefficients in two ciphertexts);
//      EvalMod       x -> sin(2 pi x) / (2 pi), i.e. x mod 1 for x near an integer: a Chebyshev
//                    interpolant of a scaled cosine followed by double-angle steps;
//      SlotsToCoeffs the canonical embedding, likewise factored; the result carries the message
//                    back in the slots, at output_level() and at the input's scale.
// Parameters are a literal (BootstrappingLiteral) validated into an immutable
// BootstrappingParameters that owns the CKKS context and the level map.
#pragma once

#include <complex>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "henn/approx/chebyshev.hpp"
#include "henn/circuits/linear_transform.hpp"
#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/keys.hpp"
#include "henn/ckks/parameters.hpp"

namespace henn::circuits {

// A ciphertext the bootstrapper cannot refresh: its values are out of the supported range, its
// level or scale is not the one the parameters were made for.
struct BootstrapInputError : ckks::Error {
    using ckks::Error::Error;
};

// What every bootstrapper does: a ciphertext at level >= input_level() whose slot values have
// magnitude <= input_bound() comes back at output_level() with the same scale and slot count.
class Bootstrapper {
  public:
    virtual ~Bootstrapper() = default;
    // The lowest level an input may have (higher levels are dropped first).
    virtual int input_level() const = 0;
    // The level of every refreshed ciphertext.
    virtual int output_level() const = 0;
    // The largest slot magnitude the refresh is correct for.
    virtual double input_bound() const = 0;
    virtual std::size_t slots() const = 0;
    virtual ckks::Ciphertext bootstrap(const ckks::Ciphertext& input) const = 0;
};

// TEST ONLY: "bootstraps" by decrypting and re-encrypting at output_level with the secret key. It
// refreshes noise perfectly and exists so that applications can be written and tested against the
// Bootstrapper interface before paying for the real thing. Never give it to a server: it holds s.
// Inputs with a slot of magnitude > input_bound are refused with BootstrapInputError (the real
// bootstrapper would silently return garbage for them).
class SecretKeyBootstrapperForTests final : public Bootstrapper {
  public:
    SecretKeyBootstrapperForTests(ckks::ContextPtr context, const ckks::SecretKey& secret_key,
                                  int output_level = -1, double input_bound = 1.0);
    int input_level() const override { return 0; }
    int output_level() const override { return output_level_; }
    double input_bound() const override { return input_bound_; }
    std::size_t slots() const override { return context_->max_slots(); }
    ckks::Ciphertext bootstrap(const ckks::Ciphertext& input) const override;

  private:
    ckks::ContextPtr context_;
    ckks::Encoder encoder_;
    ckks::Encryptor encryptor_;
    ckks::Decryptor decryptor_;
    int output_level_ = 0;
    double input_bound_ = 1.0;
};

// ---------------------------------------------------------------------------------------------
// Parameters

// The modulus chain, bottom up: q_0, the residual primes (levels left to the application after a
// bootstrap), SlotsToCoeffs primes (one per DFT level), EvalMod primes (cosine polynomial, then
// double angles), CoeffsToSlots primes (one per DFT level); then the special primes P.
struct BootstrappingLiteral {
    int log_n = 16;
    std::size_t slots = 0;  // 0: N/2 (full slots); only full slots are supported yet
    // q_0 / Delta (at least 2^6) trades EvalMod's approximation sin(2 pi x) / (2 pi) ~ x, whose
    // relative error is ~ t^2 / 6 for a message coefficient c, t = 2 pi c Delta / q_0 (with the
    // arcsine correction below: ~ (3 / 40) t^4), against the amplification of the errors of
    // CoeffsToSlots and EvalMod by (k + 1) q_0 / Delta and q_0 / (2 pi Delta). The coefficients of
    // slots in the unit disc are at most 1 in magnitude (typically ~ 1/sqrt(3 N / 2)). 2^8 with the
    // arcsine keeps every |m| <= 1 to ~25 bits (constant slots of magnitude 1, the worst case) and
    // typical data to the noise floor; without the arcsine, 2^8 loses 13 bits on the worst case.
    int log_q0 = 48;
    std::vector<int> log_residual{40, 40, 40, 40, 40,
                                  40, 40, 40, 40};  // levels left, at scale 2^40
    double log_default_scale = 40;                  // Delta of the residual levels and of inputs
    int slots_to_coeffs_levels = 3;
    int log_slots_to_coeffs_prime = 48;
    int coeffs_to_slots_levels = 3;
    int log_coeffs_to_slots_prime = 56;
    int log_eval_mod_prime = 60;
    // EvalMod: |I| <= k (the integer part after ModRaise), cosine interpolant degree, double-angle
    // steps r: cos(2 pi (x - 1/4) / 2^r) on [-(k+1), k+1], then r times c -> 2c^2 - 1.
    int k = 16;
    int cosine_degree = 62;
    int double_angle = 2;
    // Arcsine correction after the double angles: turns s = sin(2 pi x) back into 2 pi x for x
    // near an integer, so that a small q_0 / Delta (less noise amplification) stays correct for
    // every |m| <= 1. 0: none; 3: s + s^3 / 6, two more levels, relative error (3 / 40) t^4;
    // 5: s + s^3 / 6 + 3 s^5 / 40, three more levels, relative error (5 / 112) t^6.
    int arcsine_degree = 3;
    // Seven special primes: four key-switching digits at the top of the default chain (26 primes
    // in Q), within the 128-bit bound at N = 2^16. With fewer residual levels, more special
    // primes give fewer digits and smaller keys (2 residual levels: 10 primes, 2 digits).
    std::vector<int> log_p{61, 61, 61, 61, 61, 61, 60};
    // Weight of rotation-key memory in the BSGS split of each DFT level (BsgsCostModel): keys
    // dominate bootstrapping's memory, so fewer rotations are worth a few more plaintext products.
    // Used when key_budget_bytes is 0.
    double key_byte_weight = 1e-5;
    // Giant steps of the DFT factors by chains of rotations by +-b (BsgsCostModel::
    // chained_giant_steps): two keys per factor for its giant steps instead of one per giant
    // step, as many key switches. The CoeffsToSlots keys live at the top of the chain, where one
    // key weighs ~160 MiB at N = 2^16, so this is what brings the keys under 4 GB.
    bool chained_giant_steps = true;
    // Memory budget of all evaluation keys (relinearization, conjugation, rotations), bytes:
    // the BSGS splits of the DFT factors are chosen together, the fastest (modelled key
    // switches, products and NTTs) whose keys fit; shared steps count once, at their highest
    // level. 0: no budget (each factor by key_byte_weight). A budget no split meets is a
    // ParameterError naming the smallest possible key memory.
    std::size_t key_budget_bytes = std::size_t{3500} << 20;
    // Hamming weight of the secret key (0: dense uniform ternary, the HE standard's secret).
    int secret_hamming_weight = 0;
    // Sparse-secret encapsulation (Bossuat, Troncoso-Pastoriza, Hubaux, ACNS 2022): with h' > 0 the
    // level-0 input is switched to an ephemeral secret of Hamming weight h' (a key at level 0:
    // modulus q_0 P only), raised under it, and switched back to the main secret at the top (one
    // top-level key). |I| <= (h' + 1) / 2 always, so k >= h' / 2 rules out failure whatever the
    // main secret. 0: none (ModRaise under the main secret; a dense one then needs a large k and
    // still fails with the printed probability). EncapsulationKeys hold the two keys.
    int ephemeral_hamming_weight = 32;
    ckks::SecurityLevel security = ckks::SecurityLevel::k128;
    // Explicit opt-out of the security check: toy rings in tests only.
    bool allow_insecure = false;
};

// Where each stage lives in the chain (levels are indices of the last prime, as in ckks).
struct BootstrappingLevels {
    int top = 0;                  // after ModRaise
    int coeffs_to_slots_end = 0;  // after CoeffsToSlots (EvalMod starts here)
    int eval_mod_end = 0;         // after EvalMod (SlotsToCoeffs starts here)
    int output = 0;               // after SlotsToCoeffs: the residual levels
    int cosine_depth = 0;         // levels of the cosine polynomial
    int arcsine_depth = 0;        // levels of the arcsine correction (0, 2 or 3)
};

class BootstrappingParameters;
using BootstrappingParametersPtr = std::shared_ptr<const BootstrappingParameters>;

class BootstrappingParameters {
  public:
    // Validates the literal (sizes, that the polynomial approximates the cosine to ~2^-50, the
    // security bound unless allow_insecure) and builds the CKKS context.
    static BootstrappingParametersPtr create(const BootstrappingLiteral& literal);

    const BootstrappingLiteral& literal() const { return literal_; }
    const ckks::ContextPtr& context() const { return context_; }
    const BootstrappingLevels& levels() const { return levels_; }
    std::size_t slots() const { return slots_; }
    // The cosine interpolant on [-1, 1] (its argument is x / (k + 1)) and its largest error.
    const approx::ChebyshevPolynomial& cosine() const { return cosine_; }
    double cosine_error() const { return cosine_error_; }
    // The arcsine correction's Taylor polynomial in the Chebyshev basis on [-1, 1] (degree 5 only;
    // degree 3 is evaluated in the power basis).
    const approx::ChebyshevPolynomial& arcsine() const { return arcsine_; }
    double eval_mod_bound() const { return static_cast<double>(literal_.k) + 1; }
    // log2 of an upper bound on the probability that some |I_j| > k in one bootstrap (Chernoff
    // bound on the Irwin-Hall tail, union over N coefficients); -infinity when |I| <= k always.
    double log2_failure_probability() const;
    // Level map, chain sizes, log QP, security, h, K, failure probability.
    std::string describe() const;

  private:
    BootstrappingParameters() = default;
    BootstrappingLiteral literal_;
    ckks::ContextPtr context_;
    BootstrappingLevels levels_;
    std::size_t slots_ = 0;
    approx::ChebyshevPolynomial cosine_;
    approx::ChebyshevPolynomial arcsine_;
    double cosine_error_ = 0;
};

// A secret key with exactly `hamming_weight` coefficients in {-1, 1} (the others 0), for
// bootstrapping parameters that ask for a sparse secret; drawn from OS randomness, or from a seed
// for tests.
ckks::SecretKey sparse_secret_key(const ckks::Context& context, int hamming_weight);
ckks::SecretKey sparse_secret_key_for_tests(const ckks::Context& context, int hamming_weight,
                                            const math::Seed& seed);

// The two keys of sparse-secret encapsulation (BootstrappingLiteral::ephemeral_hamming_weight):
// main secret -> ephemeral sparse secret at level 0, and back at the top level. The ephemeral
// secret itself is drawn, used and wiped inside make_encapsulation_keys.
struct EncapsulationKeys {
    ckks::KeySwitchKey to_sparse;  // level 0
    ckks::KeySwitchKey to_dense;   // the top level (after ModRaise)
    std::size_t bytes() const { return to_sparse.bytes() + to_dense.bytes(); }
};
EncapsulationKeys make_encapsulation_keys(ckks::KeyGenerator& keygen,
                                          const BootstrappingParameters& params);
// The same with the ephemeral secret and the keys' randomness from a seed (tests and
// reproducible benchmarks only).
EncapsulationKeys make_encapsulation_keys_for_tests(ckks::KeyGenerator& keygen,
                                                    const BootstrappingParameters& params,
                                                    const math::Seed& seed);

// ---------------------------------------------------------------------------------------------
// The stages, public for tests and benchmarks

// ModRaise: a ciphertext at level 0 (coefficients mod q_0, centered) lifted to every prime of the
// chain up to `level` (-1: the top). The scale and slots are kept.
ckks::Ciphertext mod_raise(const ckks::Context& context, const ckks::Ciphertext& level0,
                           int level = -1);

// The butterfly stages of the canonical embedding (without its bit reversal), grouped into
// `levels` factors, each as generalized diagonals computed in long double. slots_to_coeffs:
// w (bit-reversed order) -> slot values; coeffs_to_slots: slot values -> w (bit-reversed),
// including the 1/n. Factors in the order they are applied.
std::vector<Diagonals> slots_to_coeffs_factors(std::size_t ring_degree, std::size_t slots,
                                               int levels);
std::vector<Diagonals> coeffs_to_slots_factors(std::size_t ring_degree, std::size_t slots,
                                               int levels);

// Key material the real bootstrapper needs (besides relinearization): rotations by level, and
// conjugation at `conjugation_level`.
struct BootstrappingKeyRequirements {
    std::vector<RotationUse> rotations;
    int conjugation_level = 0;
    // Relinearization is used in EvalMod only: its key reaches the level EvalMod starts at.
    int relinearization_level = 0;
    // Sparse-secret encapsulation: its keys at levels 0 and top (counted in key_bytes, made by
    // make_encapsulation_keys, not by generate).
    bool encapsulation = false;
    int top_level = 0;
    // Memory of these keys (each only down to its level) and their count, without generating.
    std::size_t key_bytes(const ckks::Context& context, std::size_t slots) const;
    std::size_t key_count(const ckks::Context& context, std::size_t slots) const;
    // Generates the keys (relinearization, rotations each only down to its level, conjugation).
    ckks::EvaluationKeys generate(ckks::KeyGenerator& keygen, const ckks::Context& context,
                                  std::size_t slots) const;
};

// Seconds spent per stage in the last call of bootstrap_with_timings: wall clock, and CPU seconds
// of the whole process (all threads; the steadier figure on a shared machine).
struct BootstrapTimings {
    double mod_raise = 0, coeffs_to_slots = 0, eval_mod = 0, slots_to_coeffs = 0;
    double cpu_mod_raise = 0, cpu_coeffs_to_slots = 0, cpu_eval_mod = 0, cpu_slots_to_coeffs = 0;
    double total() const { return mod_raise + coeffs_to_slots + eval_mod + slots_to_coeffs; }
    double cpu_total() const {
        return cpu_mod_raise + cpu_coeffs_to_slots + cpu_eval_mod + cpu_slots_to_coeffs;
    }
};

// The BSGS plans of the DFT factors (in the order they are applied) and the levels they run at.
struct DftPlans {
    std::vector<BsgsPlan> coeffs_to_slots, slots_to_coeffs;
    std::vector<int> coeffs_to_slots_levels, slots_to_coeffs_levels;
    std::size_t key_switches() const;
};

class CkksBootstrapper final : public Bootstrapper {
  public:
    // The splits the bootstrapper uses (the key budget or weight of the literal; no encoding).
    static DftPlans dft_plans(const BootstrappingParameters& params);
    // The keys this bootstrapper will ask the evaluator for (no encoding, cheap).
    static BootstrappingKeyRequirements key_requirements(const BootstrappingParameters& params);

    // Encodes the DFT factors; the evaluator must hold the keys of key_requirements(params), and
    // with ephemeral_hamming_weight > 0 the encapsulation keys are needed (MissingKeyError).
    CkksBootstrapper(BootstrappingParametersPtr params,
                     std::shared_ptr<const ckks::Evaluator> evaluator,
                     std::shared_ptr<const EncapsulationKeys> encapsulation = nullptr);

    int input_level() const override { return 0; }
    int output_level() const override { return params_->levels().output; }
    double input_bound() const override { return 1.0; }
    std::size_t slots() const override { return params_->slots(); }
    ckks::Ciphertext bootstrap(const ckks::Ciphertext& input) const override;
    ckks::Ciphertext bootstrap_with_timings(const ckks::Ciphertext& input,
                                            BootstrapTimings* timings) const;

    // The stages, public for tests.
    // CoeffsToSlots: for slot values z, returns (2 Re w, 2 Im w) with w = the inverse embedding of
    // z in bit-reversed order (w_j = c_j + i c_(j+N/2) for the coefficients c). bootstrap() labels
    // the raised ciphertext with scale 2 q_0 (k + 1), so that these read x / (k + 1), x = t / q_0.
    std::pair<ckks::Ciphertext, ckks::Ciphertext> coeffs_to_slots(
        const ckks::Ciphertext& raised) const;
    // EvalMod: for real slots y = x / (k + 1) at level levels().coeffs_to_slots_end, computes
    // sin(2 pi x) and relabels its scale so that the slots read sin(2 pi x) q_0 / (2 pi Delta),
    // Delta = message_scale: the message m when x = I + m Delta / q_0. Level eval_mod_end.
    ckks::Ciphertext eval_mod(const ckks::Ciphertext& y, double message_scale, double q0) const;
    // SlotsToCoeffs: the embedding of real + i imaginary (bit-reversed order), at output_level();
    // the scale lands at the input's scale when the inputs come from eval_mod.
    ckks::Ciphertext slots_to_coeffs(const ckks::Ciphertext& real,
                                     const ckks::Ciphertext& imaginary) const;
    // Memory of the encoded DFT factors.
    std::size_t plaintext_bytes() const;

  private:
    BootstrappingParametersPtr params_;
    std::shared_ptr<const ckks::Evaluator> evaluator_;
    std::shared_ptr<const EncapsulationKeys> encapsulation_;
    ckks::Encoder encoder_;
    std::vector<LinearTransform> coeffs_to_slots_;
    std::vector<LinearTransform> slots_to_coeffs_;
    double cosine_scale_ = 0;        // scale the cosine polynomial lands at
    double double_angle_scale_ = 0;  // scale after the double angles
    double eval_mod_scale_ = 0;      // scale after EvalMod (double angles or arcsine)
};

}  // namespace henn::circuits
