// The same compiled network on henn and on Microsoft SEAL's CKKS evaluator, in one run.
//
// henn compiles the model (fused linear stages, monic quadratics, levels and scales); this program
// then runs that exact plan three ways on one batch of MNIST test images:
//   henn            the engine's Session (blocked constant-matrix kernel, streamed layers)
//   henn naive      the same Session with one evaluator call per weight
//   (RunOptions::reference_kernels) SEAL            SEAL's Evaluator written the way its users
//   write a batch-packed network: per
//                   weight an encoded constant, multiply_plain and add_inplace, one rescale per
//                   output; squares by square + relinearize + rescale
// on the same primes (SEAL gets henn's chain Q and one special prime), with real slots (one image
// per slot) for all three, and reports images per second, input bytes and the agreement of the
// predictions. Built only with -DHENN_SEAL_DIR=<SEAL build or install> (SEAL is never part of this
// repository).
//
//   henn_engine_seal_bench MODEL.onnx --data-dir DIR [--images N] [--threads T] [--json]
#include <omp.h>
#include <seal/seal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "henn/data/data.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/engine/session.hpp"
#include "henn/math/parallel.hpp"
#include "henn/nn/reference.hpp"
#include "henn/onnx/onnx.hpp"

using namespace henn;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

std::int64_t argmax(const double* v, std::int64_t n) {
    return std::max_element(v, v + n) - v;
}

struct SealSide {
    seal::SEALContext context;
    seal::CKKSEncoder encoder;
    seal::SecretKey secret;
    seal::RelinKeys relin;
    seal::Evaluator evaluator;
    SealSide(const seal::EncryptionParameters& parms, seal::KeyGenerator& keygen)
        : context(parms, true, seal::sec_level_type::tc128),
          encoder(context),
          secret(keygen.secret_key()),
          evaluator(context) {
        keygen.create_relin_keys(relin);
    }
};

seal::EncryptionParameters seal_parameters(const ckks::Context& ctx) {
    seal::EncryptionParameters parms(seal::scheme_type::ckks);
    parms.set_poly_modulus_degree(ctx.n());
    std::vector<seal::Modulus> chain;
    for (const auto& q : ctx.q()) chain.emplace_back(q.value());
    // SEAL keys switch with one special prime: the largest NTT prime below 2^60 not in the chain.
    const auto special = seal::CoeffModulus::Create(ctx.n(), {60});
    chain.push_back(special[0]);
    parms.set_coeff_modulus(chain);
    return parms;
}

// One linear stage on SEAL: out_r = sum_c w_rc * in_c + b_r, then rescale.
std::vector<seal::Ciphertext> seal_linear(SealSide& s, const engine::CompiledModel& m,
                                          std::size_t k, const std::vector<seal::Ciphertext>& in) {
    const auto& stage = m.stages()[k];
    const auto& l = std::get<engine::LinearStage>(stage.op);
    const double q = static_cast<double>(m.context()->q()[stage.level_in].value());
    const double cs =
        q * (m.input_scale() / stage.scale_in);  // henn's constant scale for the stage
    std::vector<seal::Ciphertext> out(static_cast<std::size_t>(l.outputs));
    const auto parms_id = in[0].parms_id();
#pragma omp parallel for schedule(dynamic)
    for (std::int64_t r = 0; r < l.outputs; ++r) {
        seal::Plaintext w;
        seal::Ciphertext term, sum;
        bool first = true;
        for (std::size_t e = l.row_begin[r]; e < l.row_begin[r + 1]; ++e) {
            s.encoder.encode(l.weight[e], parms_id, cs, w);
            s.evaluator.multiply_plain(in[l.column[e]], w, term);
            if (first)
                sum = term;
            else
                s.evaluator.add_inplace(sum, term);
            first = false;
        }
        if (first) throw std::runtime_error("an empty row");
        if (l.bias[r] != 0) {
            s.encoder.encode(l.bias[r], parms_id, sum.scale(), w);
            s.evaluator.add_plain_inplace(sum, w);
        }
        s.evaluator.rescale_to_next_inplace(sum);
        out[static_cast<std::size_t>(r)] = std::move(sum);
    }
    return out;
}

// A monic quadratic x^2 + beta x (what henn's compiler leaves): square, relinearize, add, rescale.
std::vector<seal::Ciphertext> seal_square(SealSide& s, const engine::CompiledModel& m,
                                          std::size_t k, std::vector<seal::Ciphertext> in) {
    const auto& a = std::get<engine::ActivationStage>(m.stages()[k].op);
    if (a.coefficients.size() != 3 || a.coefficients[0] != 0 || a.coefficients[2] != 1) {
        throw std::runtime_error("the SEAL side runs monic quadratics only");
    }
    const double beta = a.coefficients[1];
#pragma omp parallel for schedule(dynamic)
    for (std::size_t i = 0; i < in.size(); ++i) {
        seal::Ciphertext y;
        s.evaluator.square(in[i], y);
        s.evaluator.relinearize_inplace(y, s.relin);
        if (beta != 0) {
            seal::Plaintext b;
            seal::Ciphertext t;
            s.encoder.encode(beta, in[i].parms_id(), in[i].scale(), b);
            s.evaluator.multiply_plain(in[i], b, t);
            s.evaluator.add_inplace(y, t);
        }
        s.evaluator.rescale_to_next_inplace(y);
        in[i] = std::move(y);
    }
    return in;
}

}  // namespace

int main(int argc, char** argv) {
    std::string model_path, data_dir;
    std::int64_t images = 8192;
    int threads = 2;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--data-dir")
            data_dir = next();
        else if (a == "--images")
            images = std::stoll(next());
        else if (a == "--threads")
            threads = std::stoi(next());
        else if (a == "--json")
            json = true;
        else if (!a.empty() && a[0] != '-')
            model_path = a;
        else {
            std::cerr << "usage: henn_engine_seal_bench MODEL.onnx --data-dir DIR [--images N] "
                         "[--threads T] [--json]\n";
            return 2;
        }
    }
    if (model_path.empty() || data_dir.empty()) {
        std::cerr << "usage: henn_engine_seal_bench MODEL.onnx --data-dir DIR [--images N] "
                     "[--threads T] [--json]\n";
        return 2;
    }
    math::set_thread_count(threads);
    omp_set_num_threads(threads);

    const nn::Model model = onnx::import_onnx(model_path).model;
    const auto train = data::load_named_dataset("mnist", data_dir, data::Split::train).head(512);
    auto test = data::load_named_dataset("mnist", data_dir, data::Split::test);
    engine::CompileOptions options;
    options.slot_packing =
        engine::SlotPacking::real;  // SEAL's CKKS has no two-images-per-slot form
    options.calibration.assign(train.features.begin(), train.features.end());
    options.calibration_count = train.count();
    const auto compiled = engine::CompiledModel::compile(model, options);
    images = std::min({images, compiled->batch_size(), test.count()});
    test = test.head(images);
    const std::vector<double> x(test.features.begin(), test.features.end());
    const std::int64_t width = compiled->output_size(), features = compiled->input_size();
    const auto plain = nn::run_reference_batch(model, x, images);

    // henn, blocked and naive, on the same encrypted batch.
    engine::Client client(compiled);
    engine::Session session(compiled, client.evaluation_keys());
    const auto batch = client.encrypt(x, images).at(0);
    const double henn_input_bytes =
        static_cast<double>(engine::saved_batches_bytes(*compiled, std::span(&batch, 1)));
    auto t = Clock::now();
    const auto henn_out = session.run(batch);
    const double henn_seconds = seconds_since(t);
    engine::RunOptions naive;
    naive.reference_kernels = true;
    t = Clock::now();
    const auto naive_out = session.run(batch, naive);
    const double naive_seconds = seconds_since(t);
    const auto henn_logits = client.decrypt(std::span(&henn_out, 1));

    // SEAL on henn's chain.
    const ckks::Context& ctx = *compiled->context();
    const auto parms = seal_parameters(ctx);
    seal::KeyGenerator keygen(seal::SEALContext(parms, true, seal::sec_level_type::tc128));
    SealSide s(parms, keygen);
    seal::Encryptor encryptor(s.context, s.secret);
    seal::Decryptor decryptor(s.context, s.secret);
    std::vector<seal::Ciphertext> current(static_cast<std::size_t>(features));
    std::size_t seal_input_bytes = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : seal_input_bytes)
    for (std::int64_t f = 0; f < features; ++f) {
        std::vector<double> column(static_cast<std::size_t>(images));
        for (std::int64_t i = 0; i < images; ++i)
            column[static_cast<std::size_t>(i)] = x[i * features + f];
        seal::Plaintext p;
        s.encoder.encode(column, compiled->input_scale(), p);
        seal::Serializable<seal::Ciphertext> seeded = encryptor.encrypt_symmetric(p);
        seal_input_bytes += seeded.save_size(seal::compr_mode_type::zstd);
        encryptor.encrypt_symmetric(p, current[static_cast<std::size_t>(f)]);
    }
    t = Clock::now();
    for (std::size_t k = 0; k < compiled->stages().size(); ++k) {
        if (std::holds_alternative<engine::LinearStage>(compiled->stages()[k].op))
            current = seal_linear(s, *compiled, k, current);
        else
            current = seal_square(s, *compiled, k, std::move(current));
    }
    const double seal_seconds = seconds_since(t);
    std::vector<double> seal_logits(static_cast<std::size_t>(images * width));
    for (std::int64_t o = 0; o < width; ++o) {
        seal::Plaintext p;
        std::vector<double> v;
        decryptor.decrypt(current[static_cast<std::size_t>(o)], p);
        s.encoder.decode(p, v);
        for (std::int64_t i = 0; i < images; ++i)
            seal_logits[i * width + o] = v[static_cast<std::size_t>(i)];
    }

    std::int64_t henn_agree = 0, seal_agree = 0;
    for (std::int64_t i = 0; i < images; ++i) {
        const auto p = argmax(plain.data() + i * width, width);
        henn_agree += argmax(henn_logits.data() + i * width, width) == p;
        seal_agree += argmax(seal_logits.data() + i * width, width) == p;
    }
    bool identical = henn_out.ciphertexts.size() == naive_out.ciphertexts.size();
    for (std::size_t i = 0; identical && i < henn_out.ciphertexts.size(); ++i) {
        identical = henn_out.ciphertexts[i].polys == naive_out.ciphertexts[i].polys;
    }
    const double n = static_cast<double>(images);
    nlohmann::json j;
    j["model"] = model_path;
    j["images"] = images;
    j["threads"] = threads;
    j["log_n"] = static_cast<int>(std::log2(ctx.n()));
    j["primes_q"] = ctx.q().size();
    j["henn_images_per_second"] = n / henn_seconds;
    j["henn_naive_images_per_second"] = n / naive_seconds;
    j["seal_images_per_second"] = n / seal_seconds;
    j["henn_vs_seal"] = seal_seconds / henn_seconds;
    j["henn_naive_vs_seal"] = seal_seconds / naive_seconds;
    j["henn_naive_bit_identical"] = identical;
    j["henn_bytes_up_per_image"] = henn_input_bytes / n;
    j["seal_bytes_up_per_image"] = static_cast<double>(seal_input_bytes) / n;
    j["henn_agreement"] = henn_agree / n;
    j["seal_agreement"] = seal_agree / n;
    if (json) {
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("%s, %lld images in real slots, N = 2^%d, %zu primes, %d threads\n",
                    model_path.c_str(), static_cast<long long>(images),
                    static_cast<int>(std::log2(ctx.n())), ctx.q().size(), threads);
        std::printf("  henn        %8.2f s  %9.0f images/s  agreement %.4f\n", henn_seconds,
                    n / henn_seconds, henn_agree / n);
        std::printf("  henn naive  %8.2f s  %9.0f images/s  (bit-identical: %s)\n", naive_seconds,
                    n / naive_seconds, identical ? "yes" : "NO");
        std::printf("  SEAL        %8.2f s  %9.0f images/s  agreement %.4f\n", seal_seconds,
                    n / seal_seconds, seal_agree / n);
        std::printf(
            "  henn / SEAL: %.1fx faster; henn naive / SEAL: %.2fx; upload per image henn %.1f KB, "
            "SEAL %.1f KB\n",
            seal_seconds / henn_seconds, seal_seconds / naive_seconds, henn_input_bytes / n / 1000,
            static_cast<double>(seal_input_bytes) / n / 1000);
    }
    return identical && henn_agree == images ? 0 : 1;
}
