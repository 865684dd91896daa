#include "henn/engine/model_privacy.hpp"

#include <cmath>
#include <numbers>
#include <vector>

#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/objects.hpp"
#include "henn/engine/errors.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/vector_ops.hpp"

namespace henn::engine {

std::shared_ptr<const CompiledModel> CompiledModel::without_weights() const {
    // A copy through the validated serializer, so every field (present or future) comes along;
    // `load` allocated it non-const, so changing it before anyone else sees it is well defined.
    auto copy = load(save());
    auto* m = const_cast<CompiledModel*>(copy.get());
    for (auto& stage : m->stages_) {
        if (auto* l = std::get_if<LinearStage>(&stage.op)) {
            std::fill(l->weight.begin(), l->weight.end(), 0.0);
            std::fill(l->bias.begin(), l->bias.end(), 0.0);
        }
    }
    m->metadata_["weights"] = "removed";
    m->finish();  // matrices and the hash of the redacted model
    return copy;
}

ckks::PublicKey Client::public_key() const {
    return keygen_->public_key();
}

namespace {

const StagePlan& last_stage(const CompiledModel& model) {
    if (model.stages().empty()) throw FormatError("the compiled model has no stages");
    return model.stages().back();
}

// Centered normal samples rounded to integers (Box-Muller on 53-bit uniforms from the stream).
class WideGaussian {
  public:
    WideGaussian(math::Prng& prng, double sigma) : prng_(prng), sigma_(sigma) {}
    std::int64_t next() {
        if (has_spare_) {
            has_spare_ = false;
            return std::llround(spare_);
        }
        const double u1 = (static_cast<double>(prng_.next_u64() >> 11) + 1.0) * 0x1p-53;  // (0, 1]
        const double u2 = static_cast<double>(prng_.next_u64() >> 11) * 0x1p-53;
        const double r = sigma_ * std::sqrt(-2.0 * std::log(u1));
        spare_ = r * std::sin(2 * std::numbers::pi * u2);
        has_spare_ = true;
        return std::llround(r * std::cos(2 * std::numbers::pi * u2));
    }

  private:
    math::Prng& prng_;
    double sigma_;
    double spare_ = 0;
    bool has_spare_ = false;
};

}  // namespace

double flooding_stddev(const CompiledModel& model, double bits) {
    if (bits <= 0) return 0;
    last_stage(model);  // a model with stages
    // expected_precision_bits() bounds the outputs' absolute error by 2^-bits at ten standard
    // deviations of the per-slot error (the compiler's noise estimate): flood at 2^bits of that
    // standard deviation, so the bound moves by log2(sqrt(1 + 4^bits)).
    const double error_stddev = std::exp2(-model.expected_precision_bits()) / 10.0;
    return std::exp2(bits) * error_stddev;
}

double precision_after_flooding(const CompiledModel& model, double bits) {
    if (bits <= 0) return model.expected_precision_bits();
    return model.expected_precision_bits() - 0.5 * std::log2(1 + std::exp2(2 * bits));
}

void protect_outputs(const CompiledModel& model, const ckks::PublicKey& public_key,
                     EncryptedBatch& outputs, const FloodingOptions& options) {
    const ckks::ContextPtr& context = model.context();
    const ckks::Context& ctx = *context;
    if (public_key.parameter_hash != ctx.parameter_hash()) {
        throw KeyMismatchError(
            "the public key for output re-randomization was made under other parameters");
    }
    const StagePlan& last = last_stage(model);
    const std::size_t n = ctx.n();
    // A coefficient noise of standard deviation s moves each decoded slot value (real part, or
    // imaginary part in complex packing) by s * sqrt(N / 2) / scale.
    const double value_sigma = flooding_stddev(model, options.bits);
    const double coefficient_sigma =
        value_sigma * last.scale_out * std::sqrt(2.0 / static_cast<double>(n));
    if (coefficient_sigma > 0x1p52)
        throw EngineError("flooding noise too large for the output modulus");

    ckks::Encryptor encryptor(context, public_key);
    math::Prng prng =
        options.test_only_seed ? math::Prng(*options.test_only_seed, 7) : math::Prng::from_os();
    if (options.test_only_seed) encryptor.use_test_only_seed(math::test_only_seed(0x5eed));
    WideGaussian gaussian(prng, coefficient_sigma);
    std::vector<std::int64_t> noise(n);
    std::vector<ckks::u64> limb(n);

    for (auto& c : outputs.ciphertexts) {
        if (c.size() != 2 || c.parameter_hash != ctx.parameter_hash() ||
            c.level != last.level_out) {
            throw FormatError(
                "protect_outputs: an output ciphertext is not at the last stage's level");
        }
        const std::size_t limbs = static_cast<std::size_t>(c.level) + 1;
        ckks::Plaintext zero;
        zero.poly = ckks::RnsPoly(n, limbs);
        zero.level = c.level;
        zero.scale = c.scale;
        zero.slots = c.slots;
        zero.parameter_hash = ctx.parameter_hash();
        const ckks::Ciphertext fresh = encryptor.encrypt(zero);
        if (coefficient_sigma > 0) {
            for (auto& e : noise) e = gaussian.next();
        }
        for (std::size_t i = 0; i < limbs; ++i) {
            const math::Modulus& q = ctx.q()[i];
            for (int p = 0; p < 2; ++p)
                math::add_mod_vec(c.polys[p].limb(i), fresh.polys[p].limb(i), c.polys[p].limb(i), n,
                                  q);
            if (coefficient_sigma > 0) {
                const auto qv = static_cast<std::int64_t>(q.value());
                for (std::size_t j = 0; j < n; ++j) {
                    const std::int64_t r = noise[j] % qv;
                    limb[j] = static_cast<ckks::u64>(r < 0 ? r + qv : r);
                }
                math::ntt_forward(limb.data(), ctx.ntt(i));
                math::add_mod_vec(c.polys[0].limb(i), limb.data(), c.polys[0].limb(i), n, q);
            }
        }
        c.c1_seed.reset();
    }
    math::secure_wipe(noise.data(), noise.size() * sizeof(noise[0]));
}

}  // namespace henn::engine
