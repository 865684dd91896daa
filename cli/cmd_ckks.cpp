// `henn params` and `henn bench ckks`.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/serialization.hpp"
#include "henn/math/parallel.hpp"

namespace henn::cli {
namespace {

using namespace henn::ckks;
using Clock = std::chrono::steady_clock;

SecurityLevel parse_security(int bits) {
    switch (bits) {
        case 128:
            return SecurityLevel::k128;
        case 192:
            return SecurityLevel::k192;
        case 256:
            return SecurityLevel::k256;
        default:
            throw CommandFailure(ErrorCategory::usage, "security must be 128, 192 or 256");
    }
}

std::vector<double> prime_bits(const std::vector<math::Modulus>& moduli) {
    std::vector<double> bits;
    for (const auto& m : moduli)
        bits.push_back(std::round(std::log2(static_cast<double>(m.value())) * 100) / 100);
    return bits;
}

// ---------------------------------------------------------------------------------------------
// henn params

struct ParamsOptions {
    int log_n = 0;
    int depth = 4;
    int scale_bits = 40;
    int first_bits = 60;
    int security = 128;
    int dnum = 0;
    bool json = false;
};

void run_params(const ParamsOptions& o) {
    const SecurityLevel security = parse_security(o.security);
    ContextPtr ctx;
    try {
        ParametersLiteral lit =
            ParametersLiteral::for_depth(o.depth, o.scale_bits, o.first_bits, security, o.dnum);
        if (o.log_n != 0) lit.log_n = o.log_n;
        ctx = Context::create(lit);
    } catch (const ParameterError& e) {
        throw CommandFailure(ErrorCategory::usage, std::string("refused: ") + e.what());
    }
    if (o.json) {
        nlohmann::json j;
        j["log_n"] = ctx->log_n();
        j["slots"] = ctx->max_slots();
        j["depth"] = ctx->max_level();
        j["log_q"] = prime_bits(ctx->q());
        j["log_p"] = prime_bits(ctx->p());
        j["log_qp"] = ctx->log_qp();
        j["max_log_qp"] = max_log_qp(ctx->log_n(), security);
        j["security_bits"] = o.security;
        j["dnum"] = ctx->digit_count(ctx->max_level());
        j["default_scale_bits"] = o.scale_bits;
        std::cout << j.dump(2) << "\n";
        return;
    }
    std::cout << std::fixed << std::setprecision(2);
    std::cout << "ring degree     N = 2^" << ctx->log_n() << " = " << ctx->n() << "\n";
    std::cout << "slots           " << ctx->max_slots() << "\n";
    std::cout << "depth           " << ctx->max_level() << " (levels of rescaling)\n";
    std::cout << "ciphertext Q    " << ctx->q_count() << " primes, bits:";
    for (double b : prime_bits(ctx->q())) std::cout << " " << b;
    std::cout << "\nspecial P       " << ctx->p_count() << " primes, bits:";
    for (double b : prime_bits(ctx->p())) std::cout << " " << b;
    std::cout << "\nkey switching   dnum = " << ctx->digit_count(ctx->max_level()) << " digits\n";
    std::cout << "log2(QP)        " << ctx->log_qp() << " <= " << max_log_qp(ctx->log_n(), security)
              << "\n";
    std::cout << "security        " << o.security
              << "-bit (HomomorphicEncryption.org, ternary secret)\n";
    std::cout << "default scale   2^" << o.scale_bits << "\n";
}

// ---------------------------------------------------------------------------------------------
// henn bench ckks

// Chains with as many primes as Microsoft SEAL's defaults for each ring (the cost of most
// operations grows with the prime count), within the 128-bit bound.
ParametersLiteral standard_chain(int log_n) {
    ParametersLiteral lit;
    lit.log_n = log_n;
    switch (log_n) {
        case 12:
            lit.log_q = {36, 36};
            lit.log_p = {37};
            lit.log_default_scale = 30;
            break;
        case 13:
            lit.log_q = {45, 42, 42, 42};
            lit.log_p = {45};
            lit.log_default_scale = 40;
            break;
        case 14:
            lit.log_q = {49, 48, 48, 48, 48, 48, 48, 48};
            lit.log_p = {49};
            lit.log_default_scale = 40;
            break;
        case 15:
            lit.log_q.assign(15, 55);
            lit.log_p = {55};
            lit.log_default_scale = 45;
            break;
        case 16:
            // 29 primes: 30 (1770 bits with P) exceeded the 2024 bound of 1747 bits.
            lit.log_q.assign(29, 55);
            lit.log_p = {60, 60};
            lit.log_default_scale = 50;
            break;
        default:
            throw CommandFailure(ErrorCategory::usage, "bench ckks supports log N from 12 to 16");
    }
    return lit;
}

struct Timing {
    std::string op;
    double median_us;
    double min_us;
};

template <typename F>
Timing time_op(const std::string& op, int repeat, F&& body) {
    std::vector<double> samples;
    body();  // warm-up (allocations, lazily built tables)
    for (int r = 0; r < repeat; ++r) {
        const auto start = Clock::now();
        body();
        samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    std::sort(samples.begin(), samples.end());
    return {op, samples[samples.size() / 2], samples.front()};
}

struct BenchOptions {
    std::vector<int> log_n = {13, 14, 15};
    int threads = 1;
    int repeat = 7;
    bool json = false;
};

void run_bench_ckks(const BenchOptions& o) {
    math::set_thread_count(o.threads);
    nlohmann::json all = nlohmann::json::array();
    for (int log_n : o.log_n) {
        const ContextPtr ctx = Context::create(standard_chain(log_n));
        const int repeat = log_n >= 16 ? std::max(3, o.repeat / 2) : o.repeat;
        KeyGenerator keygen(ctx);
        const std::vector<int> hoisted_steps = {1, 2, 3, 4, 5, 6, 7, 8};
        auto keys = std::make_shared<EvaluationKeys>(
            keygen.evaluation_keys(hoisted_steps, /*conjugation=*/true));
        const Encoder encoder(ctx);
        const Encryptor pk_encryptor(ctx, keygen.public_key());
        const Encryptor sk_encryptor(ctx, keygen.secret_key());
        const Decryptor decryptor(ctx, keygen.secret_key());
        const Evaluator evaluator(ctx, keys);

        std::mt19937_64 rng(1);
        std::uniform_real_distribution<double> dist(-1, 1);
        std::vector<double> values(ctx->max_slots());
        for (auto& v : values) v = dist(rng);
        const Plaintext pt = encoder.encode(values);
        const Ciphertext a = pk_encryptor.encrypt(pt), b = pk_encryptor.encrypt(pt);
        const Ciphertext product = evaluator.multiply_relin(a, b);
        std::vector<Ciphertext> many(64, a);
        std::vector<Plaintext> many_pt(64, pt);

        std::vector<Timing> t;
        std::vector<math::u64> limb(ctx->n());
        for (auto& x : limb) x = rng() % ctx->q()[0].value();
        t.push_back(time_op("ntt_forward_1limb", repeat * 20,
                            [&] { math::ntt_forward(limb.data(), ctx->ntt(0)); }));
        t.push_back(time_op("ntt_inverse_1limb", repeat * 20,
                            [&] { math::ntt_inverse(limb.data(), ctx->ntt(0)); }));
        t.push_back(time_op("encode", repeat, [&] { (void)encoder.encode(values); }));
        t.push_back(time_op("decode", repeat, [&] { (void)encoder.decode(pt); }));
        t.push_back(time_op("encrypt_public", repeat, [&] { (void)pk_encryptor.encrypt(pt); }));
        t.push_back(time_op("encrypt_secret", repeat, [&] { (void)sk_encryptor.encrypt(pt); }));
        t.push_back(time_op("decrypt", repeat, [&] { (void)decryptor.decrypt(a); }));
        t.push_back(time_op("add", repeat * 4, [&] { (void)evaluator.add(a, b); }));
        t.push_back(
            time_op("multiply_plain", repeat * 4, [&] { (void)evaluator.multiply_plain(a, pt); }));
        t.push_back(time_op("multiply_accumulate_64_plain", repeat, [&] {
            (void)evaluator.multiply_accumulate(std::span<const Ciphertext>(many),
                                                std::span<const Plaintext>(many_pt));
        }));
        t.push_back(time_op("multiply", repeat, [&] { (void)evaluator.multiply(a, b); }));
        t.push_back(
            time_op("multiply_relinearize", repeat, [&] { (void)evaluator.multiply_relin(a, b); }));
        t.push_back(time_op("rescale", repeat, [&] { (void)evaluator.rescale(product); }));
        t.push_back(time_op("rotate_1", repeat, [&] { (void)evaluator.rotate(a, 1); }));
        t.push_back(time_op("conjugate", repeat, [&] { (void)evaluator.conjugate(a); }));
        t.push_back(time_op("rotate_hoisted_8", repeat,
                            [&] { (void)evaluator.rotate_hoisted(a, hoisted_steps); }));
        t.push_back(time_op("keygen_relinearization", std::max(3, repeat / 2),
                            [&] { (void)keygen.relinearization_key(); }));
        t.push_back(time_op("keygen_galois_1", std::max(3, repeat / 2),
                            [&] { (void)keygen.galois_keys({1}); }));

        const Ciphertext seeded_ct = sk_encryptor.encrypt(pt);
        const GaloisKeys one_key = keygen.galois_keys({1});
        const SaveOptions raw{Compression::kNone, 3, false};
        const std::size_t ct_plain = save(*ctx, seeded_ct, raw).size();
        const std::size_t ct_seeded = save(*ctx, seeded_ct, {Compression::kZstd, 3, true}).size();
        const std::size_t galois_plain = save(*ctx, one_key, raw).size();
        const std::size_t galois_seeded = save(*ctx, one_key, {Compression::kZstd, 3, true}).size();

        nlohmann::json j;
        j["log_n"] = log_n;
        j["log_q"] = prime_bits(ctx->q());
        j["log_p"] = prime_bits(ctx->p());
        j["log_qp"] = ctx->log_qp();
        j["threads"] = o.threads;
        j["ntt_kernel"] = math::ntt_kernel_name();
        for (const auto& x : t) j["median_us"][x.op] = x.median_us;
        j["bytes"]["ciphertext"] = ct_plain;
        j["bytes"]["ciphertext_seeded_zstd"] = ct_seeded;
        j["bytes"]["galois_key"] = galois_plain;
        j["bytes"]["galois_key_seeded_zstd"] = galois_seeded;
        all.push_back(j);
        if (!o.json) {
            std::cout << "N = 2^" << log_n << ", Q " << ctx->q_count() << " primes, P "
                      << ctx->p_count() << " primes, log2(QP) = " << std::fixed
                      << std::setprecision(1) << ctx->log_qp() << ", threads " << o.threads
                      << ", NTT kernel " << math::ntt_kernel_name() << "\n";
            std::cout << "  chain bits Q:";
            for (double bits : prime_bits(ctx->q())) std::cout << " " << bits;
            std::cout << "  P:";
            for (double bits : prime_bits(ctx->p())) std::cout << " " << bits;
            std::cout << "\n";
            for (const auto& x : t) {
                std::cout << "  " << std::left << std::setw(32) << x.op << std::right
                          << std::setw(12) << std::setprecision(1) << x.median_us << " us\n";
            }
            std::cout << "  " << std::left << std::setw(32) << "size ciphertext" << std::right
                      << std::setw(12) << ct_plain << " bytes (seeded+zstd " << ct_seeded << ")\n";
            std::cout << "  " << std::left << std::setw(32) << "size galois key" << std::right
                      << std::setw(12) << galois_plain << " bytes (seeded+zstd " << galois_seeded
                      << ")\n\n";
        }
    }
    if (o.json) std::cout << all.dump(2) << "\n";
}

const CommandRegistrar params_command(10, "params", [](CLI::App& root) {
    auto opts = std::make_shared<ParamsOptions>();
    CLI::App* cmd =
        root.add_subcommand("params", "Choose and check CKKS parameters for a circuit depth");
    cmd->add_option("--log-n", opts->log_n,
                    "Ring degree as log2 N (default: the smallest secure one)")
        ->check(CLI::Range(10, 17));
    cmd->add_option("--depth", opts->depth, "Multiplicative depth (levels)")
        ->capture_default_str()
        ->check(CLI::Range(0, 58));
    cmd->add_option("--scale-bits", opts->scale_bits,
                    "Scale 2^bits, also the size of the rescaling primes")
        ->capture_default_str()
        ->check(CLI::Range(20, 60));
    cmd->add_option("--first-bits", opts->first_bits, "Size of the first prime q_0")
        ->capture_default_str()
        ->check(CLI::Range(20, 61));
    cmd->add_option("--security", opts->security, "Security level in bits: 128, 192 or 256")
        ->capture_default_str();
    cmd->add_option("--dnum", opts->dnum, "Key-switching digits (0: one per prime)")
        ->capture_default_str();
    add_json_flag(cmd, opts->json);
    cmd->callback([opts] { run_params(*opts); });
});

const CommandRegistrar bench_ckks_command(20, "bench ckks", [](CLI::App& root) {
    auto opts = std::make_shared<BenchOptions>();
    CLI::App* bench = command_group(root, "bench", "Benchmarks (median times of repeated runs)");
    CLI::App* cmd =
        bench->add_subcommand("ckks", "Time every CKKS operation at standard parameter sets");
    cmd->add_option("--log-n", opts->log_n, "Ring sizes as log2 N, comma separated")
        ->capture_default_str()
        ->delimiter(',')
        ->check(CLI::Range(12, 16));
    add_threads_option(cmd, opts->threads);
    cmd->add_option("--repeat", opts->repeat, "Runs per operation (the median is reported)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    add_json_flag(cmd, opts->json);
    cmd->callback([opts] { run_bench_ckks(*opts); });
});

}  // namespace
}  // namespace henn::cli
