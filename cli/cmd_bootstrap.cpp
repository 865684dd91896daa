// `henn params --bootstrap` (the bootstrapping parameters: level map, log QP, security, h, K,
// failure probability, keys) and `henn bench bootstrap` (seconds per stage, precision, levels
// left, key and plaintext memory, peak RSS).
#include <sys/resource.h>
#include <time.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "henn/circuits/bootstrapping.hpp"
#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/math/modarith.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/parallel.hpp"
#include "henn/math/random.hpp"

namespace henn::cli {
namespace {

using circuits::BootstrappingLiteral;
using circuits::BootstrappingParameters;
using circuits::CkksBootstrapper;

struct BootstrapOptions {
    int log_n = 16;
    std::size_t slots = 0;
    int hamming_weight = 0;             // dense main secret
    int ephemeral_hamming_weight = 32;  // sparse-secret encapsulation (0: none)
    int k = 16;
    int residual = 9;
    int coeffs_to_slots_levels = 3;
    int slots_to_coeffs_levels = 3;
    double key_byte_weight = 1e-5;
    double key_budget_gib = 3500.0 / 1024;  // 0: no budget (key_byte_weight per factor)
    bool direct_giant_steps = false;        // one key per giant step instead of chains of +-b
    int special_primes = 7;  // primes of P (61 bits, the 7th 60): more, fewer digits, smaller keys
    int cosine_degree = 62;
    int double_angle = 2;
    int arcsine_degree = 3;
    int log_eval_mod_prime = 60;
    int log_coeffs_to_slots_prime = 56;
    int log_slots_to_coeffs_prime = 48;
    int log_q0 = 48;
    std::vector<int> threads = {1};
    int repeat = 1;
    bool toy = false;  // allow rings below the security bound (small log N), clearly marked
    bool json = false;
    bool trace = false;  // bench: per-stage errors against exact values (uses the secret key)
};

BootstrappingLiteral literal_for(const BootstrapOptions& o) {
    BootstrappingLiteral lit;
    lit.log_n = o.log_n;
    lit.slots = o.slots;
    lit.secret_hamming_weight = o.hamming_weight;
    lit.ephemeral_hamming_weight = o.ephemeral_hamming_weight;
    lit.k = o.k;
    lit.log_residual.assign(o.residual, 40);
    lit.coeffs_to_slots_levels = o.coeffs_to_slots_levels;
    lit.slots_to_coeffs_levels = o.slots_to_coeffs_levels;
    lit.log_p.assign(o.special_primes, 61);
    if (o.special_primes >= 7) lit.log_p.back() = 60;  // the default chain's 1747-bit bound
    lit.key_byte_weight = o.key_byte_weight;
    lit.key_budget_bytes = static_cast<std::size_t>(o.key_budget_gib * 1073741824.0);
    lit.chained_giant_steps = !o.direct_giant_steps;
    lit.log_q0 = o.log_q0;
    lit.cosine_degree = o.cosine_degree;
    lit.double_angle = o.double_angle;
    lit.arcsine_degree = o.arcsine_degree;
    lit.log_eval_mod_prime = o.log_eval_mod_prime;
    lit.log_coeffs_to_slots_prime = o.log_coeffs_to_slots_prime;
    lit.log_slots_to_coeffs_prime = o.log_slots_to_coeffs_prime;
    lit.allow_insecure = o.toy;
    return lit;
}

circuits::BootstrappingParametersPtr create_parameters(const BootstrapOptions& o) {
    try {
        return BootstrappingParameters::create(literal_for(o));
    } catch (const ckks::ParameterError& e) {
        const std::string what = e.what();
        const bool insecure = what.find("insecure") != std::string::npos;
        throw CommandFailure(
            ErrorCategory::usage,
            "refused: " + what +
                (insecure && !o.toy ? " (small rings need --toy, which is insecure)" : ""));
    }
}

// Keys a bootstrapper needs at these parameters: relinearization, each rotation down to the level
// it is used at, conjugation; counted without generating them.
struct KeyCount {
    std::size_t count = 0, bytes = 0;
};
KeyCount count_keys(const BootstrappingParameters& params) {
    const auto& ctx = *params.context();
    const auto req = CkksBootstrapper::key_requirements(params);
    KeyCount k;
    k.count = req.key_count(ctx, params.slots());
    k.bytes = req.key_bytes(ctx, params.slots());
    return k;
}

nlohmann::json describe_json(const BootstrappingParameters& params) {
    const auto& ctx = *params.context();
    const auto& lv = params.levels();
    nlohmann::json j;
    j["log_n"] = ctx.log_n();
    j["slots"] = params.slots();
    j["log_qp"] = ctx.log_qp();
    j["max_log_qp"] = ckks::max_log_qp(ctx.log_n(), params.literal().security);
    j["security_bits"] = static_cast<int>(params.literal().security);
    j["insecure"] = ctx.insecure();
    j["secret_hamming_weight"] = params.literal().secret_hamming_weight;
    j["k"] = params.literal().k;
    j["cosine_degree"] = params.literal().cosine_degree;
    j["double_angle"] = params.literal().double_angle;
    j["arcsine_degree"] = params.literal().arcsine_degree;
    j["log_q0_over_delta"] = params.literal().log_q0 - params.literal().log_default_scale;
    j["cosine_error_log2"] = std::log2(params.cosine_error());
    const double f = params.log2_failure_probability();
    j["failure_probability_log2"] = std::isinf(f) ? nlohmann::json(nullptr) : nlohmann::json(f);
    j["levels"] = {{"top", lv.top},
                   {"coeffs_to_slots_end", lv.coeffs_to_slots_end},
                   {"eval_mod_end", lv.eval_mod_end},
                   {"output", lv.output},
                   {"cosine_depth", lv.cosine_depth},
                   {"arcsine_depth", lv.arcsine_depth}};
    std::vector<double> bits;
    for (const auto& q : ctx.q())
        bits.push_back(std::round(std::log2(static_cast<double>(q.value())) * 100) / 100);
    j["log_q"] = bits;
    bits.clear();
    for (const auto& p : ctx.p())
        bits.push_back(std::round(std::log2(static_cast<double>(p.value())) * 100) / 100);
    j["log_p"] = bits;
    const KeyCount keys = count_keys(params);
    j["key_count"] = keys.count;
    j["key_bytes"] = keys.bytes;
    j["key_budget_bytes"] = params.literal().key_budget_bytes;
    j["chained_giant_steps"] = params.literal().chained_giant_steps;
    const auto plans = CkksBootstrapper::dft_plans(params);
    auto factors = [](const std::vector<circuits::BsgsPlan>& list, const std::vector<int>& levels) {
        nlohmann::json out = nlohmann::json::array();
        for (std::size_t i = 0; i < list.size(); ++i) {
            out.push_back({{"level", levels[i]},
                           {"baby", list[i].baby},
                           {"key_switches", list[i].key_switches},
                           {"diagonals", list[i].plaintext_products},
                           {"rotation_steps", list[i].rotation_steps}});
        }
        return out;
    };
    j["coeffs_to_slots"] = factors(plans.coeffs_to_slots, plans.coeffs_to_slots_levels);
    j["slots_to_coeffs"] = factors(plans.slots_to_coeffs, plans.slots_to_coeffs_levels);
    j["key_switches"] = plans.key_switches();
    return j;
}

void run_params_bootstrap(const BootstrapOptions& o) {
    const auto params = create_parameters(o);
    if (o.json) {
        std::cout << describe_json(*params).dump(2) << "\n";
        return;
    }
    const auto plans = CkksBootstrapper::dft_plans(*params);  // a budget no split meets fails here
    std::cout << params->describe();
    auto print = [](const char* name, const std::vector<circuits::BsgsPlan>& list,
                    const std::vector<int>& levels) {
        for (std::size_t i = 0; i < list.size(); ++i)
            std::cout << "  " << name << " level " << levels[i] << ": " << list[i].describe()
                      << "\n";
    };
    std::cout << "DFT factors     (BSGS splits; key sizes at each factor's level, shared keys "
                 "counted in each)\n";
    print("CoeffsToSlots", plans.coeffs_to_slots, plans.coeffs_to_slots_levels);
    print("SlotsToCoeffs", plans.slots_to_coeffs, plans.slots_to_coeffs_levels);
    const KeyCount keys = count_keys(*params);
    std::cout << "key switches    " << plans.key_switches() << " in the DFT factors\n";
    std::cout << "evaluation keys " << keys.count
              << " (relinearization, conjugation, encapsulation when on, rotations each down to "
                 "its level), "
              << std::fixed << std::setprecision(2) << keys.bytes / 1073741824.0 << " GiB ("
              << static_cast<double>(keys.bytes) / 1e9 << " GB)";
    if (params->literal().key_budget_bytes > 0)
        std::cout << "; budget "
                  << static_cast<double>(params->literal().key_budget_bytes) / 1073741824.0
                  << " GiB";
    std::cout << "\n";
}

double peak_rss_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) * 1024.0;  // Linux: kilobytes
}

// --trace: each stage decrypted with the secret key and compared with its exact value, computed
// from the input's coefficients: t = c_0 + c_1 s over the integers (the raised plaintext),
// u = t mod q_0 (the message Delta m plus the input's noise), I = (t - u) / q_0. Errors of
// CoeffsToSlots and EvalMod are in units of message coefficients (u / Delta), so the stages
// compare; "alone" rows feed a stage its exact input (fresh encryption) instead of the previous
// stage's output.
void trace_bootstrap(const BootstrappingParameters& params, const CkksBootstrapper& boot,
                     const ckks::Evaluator& ev, const ckks::SecretKey& secret,
                     const ckks::Ciphertext& input,
                     const std::vector<std::complex<double>>& values) {
    const auto& ctx = *params.context();
    const auto& lv = params.levels();
    const std::size_t n = ctx.n(), slots = params.slots();
    const auto q0u = ctx.q()[0].value();
    const double q0 = static_cast<double>(q0u), delta = input.scale, k1 = params.eval_mod_bound();
    ckks::Encoder encoder(params.context());
    ckks::Encryptor encryptor(params.context(), secret);
    ckks::Decryptor decryptor(params.context(), secret);
    auto coefficients = [&](const ckks::RnsPoly& poly) {
        std::vector<std::uint64_t> c(poly.limb(0), poly.limb(0) + n);
        math::ntt_inverse(c.data(), ctx.ntt(0));
        std::vector<std::int64_t> out(n);
        for (std::size_t i = 0; i < n; ++i) out[i] = math::to_centered(c[i], q0u);
        return out;
    };
    const auto c0 = coefficients(input.polys[0]), c1 = coefficients(input.polys[1]);
    const auto sk = coefficients(secret.poly());
    std::vector<__int128> t(c0.begin(), c0.end());
    for (std::size_t k = 0; k < n; ++k) {
        if (sk[k] == 0) continue;
        for (std::size_t j = 0; j < n; ++j) {
            const __int128 term = static_cast<__int128>(sk[k]) * c1[j];
            if (j + k < n)
                t[j + k] += term;
            else
                t[j + k - n] -= term;  // X^N = -1
        }
    }
    std::vector<double> u(n), x(n);  // u / Delta and t / q_0
    std::int64_t largest_i = 0;
    for (std::size_t j = 0; j < n; ++j) {
        __int128 r = t[j] % static_cast<__int128>(q0u);
        if (r > static_cast<__int128>(q0u / 2)) r -= q0u;
        if (r < -static_cast<__int128>(q0u / 2)) r += q0u;
        const auto i = static_cast<std::int64_t>((t[j] - r) / static_cast<__int128>(q0u));
        largest_i = std::max(largest_i, i < 0 ? -i : i);
        u[j] = static_cast<double>(r) / delta;
        x[j] = static_cast<double>(i) + static_cast<double>(r) / q0;
    }
    const int bits = static_cast<int>(__builtin_ctzll(slots));
    auto br = [&](std::size_t k) { return math::reverse_bits(k, bits); };
    auto print = [](const std::string& stage, const std::vector<double>& errors) {
        double sum = 0, worst = 0;
        for (double e : errors) sum += e * e, worst = std::max(worst, std::fabs(e));
        const double rms = std::sqrt(sum / static_cast<double>(errors.size()));
        std::cout << "  " << std::left << std::setw(34) << stage << std::right << std::fixed
                  << std::setprecision(1) << " rms 2^" << std::setw(6) << std::log2(rms)
                  << "  max 2^" << std::setw(6) << std::log2(worst) << "\n";
    };
    auto real_slots = [&](const ckks::Ciphertext& c) {
        return encoder.decode_real(decryptor.decrypt(c));
    };
    std::cout << "trace (errors in message-coefficient units u / Delta; |I| <= " << largest_i
              << ")\n";
    ckks::Ciphertext raised = circuits::mod_raise(ctx, input, lv.top);
    ckks::set_metadata(raised, ckks::metadata(raised).with_scale(q0 * 2 * k1));
    const auto [re, im] = boot.coeffs_to_slots(raised);
    std::vector<double> e_re(slots), e_im(slots);
    {
        const auto yr = real_slots(re), yi = real_slots(im);
        for (std::size_t k = 0; k < slots; ++k) {
            e_re[k] = (yr[k] * k1 - x[br(k)]) * q0 / delta;
            e_im[k] = (yi[k] * k1 - x[br(k) + n / 2]) * q0 / delta;
        }
        print("CoeffsToSlots (real part)", e_re);
        print("CoeffsToSlots (imaginary part)", e_im);
    }
    const auto mr = boot.eval_mod(re, delta, q0);
    const auto mi = boot.eval_mod(im, delta, q0);
    {
        const auto vr = real_slots(mr), vi = real_slots(mi);
        for (std::size_t k = 0; k < slots; ++k) {
            e_re[k] = vr[k] - u[br(k)];
            e_im[k] = vi[k] - u[br(k) + n / 2];
        }
        print("EvalMod (real part)", e_re);
        print("EvalMod (imaginary part)", e_im);
    }
    {
        // EvalMod alone on the exact x / (K + 1).
        std::vector<double> y(slots);
        for (std::size_t k = 0; k < slots; ++k) y[k] = x[br(k)] / k1;
        const double scale = static_cast<double>(ctx.q()[lv.coeffs_to_slots_end].value());
        const auto fresh = encryptor.encrypt(encoder.encode(y, lv.coeffs_to_slots_end, scale));
        const auto v = real_slots(boot.eval_mod(fresh, delta, q0));
        for (std::size_t k = 0; k < slots; ++k) e_re[k] = v[k] - u[br(k)];
        print("EvalMod alone (real part)", e_re);
    }
    const auto out = boot.slots_to_coeffs(mr, mi);
    const auto decoded_input = encoder.decode(decryptor.decrypt(input));
    const auto got = encoder.decode(decryptor.decrypt(out));
    auto slot_errors = [&](const std::vector<std::complex<double>>& a,
                           const std::vector<std::complex<double>>& b) {
        std::vector<double> e(a.size());
        for (std::size_t i = 0; i < a.size(); ++i) e[i] = std::abs(a[i] - b[i]);
        return e;
    };
    std::cout << "slot errors\n";
    print("input (encryption) vs values", slot_errors(decoded_input, values));
    print("SlotsToCoeffs vs decrypted input", slot_errors(got, decoded_input));
    {
        // SlotsToCoeffs alone on the exact u / Delta at EvalMod's output scale.
        std::vector<double> ur(slots), ui(slots);
        for (std::size_t k = 0; k < slots; ++k) ur[k] = u[br(k)], ui[k] = u[br(k) + n / 2];
        const double scale = mr.scale;
        const auto a = encryptor.encrypt(encoder.encode(ur, lv.eval_mod_end, scale));
        const auto b = encryptor.encrypt(encoder.encode(ui, lv.eval_mod_end, scale));
        const auto alone = encoder.decode(decryptor.decrypt(boot.slots_to_coeffs(a, b)));
        print("SlotsToCoeffs alone vs decrypted input", slot_errors(alone, decoded_input));
    }
    (void)ev;
}

void run_bench_bootstrap(const BootstrapOptions& o) {
    using Clock = std::chrono::steady_clock;
    auto seconds_since = [](Clock::time_point t) {
        return std::chrono::duration<double>(Clock::now() - t).count();
    };
    const auto params = create_parameters(o);
    const auto ctx = params->context();
    const auto setup_start = Clock::now();
    // A fixed seed: the benchmark is reproducible (its keys are never used for anything else).
    const ckks::SecretKey secret =
        o.hamming_weight == 0 ? ckks::KeyGenerator(ctx, math::test_only_seed(14)).secret_key()
                              : circuits::sparse_secret_key_for_tests(*ctx, o.hamming_weight,
                                                                      math::test_only_seed(14));
    ckks::KeyGenerator keygen(ctx, secret);
    auto keys = std::make_shared<ckks::EvaluationKeys>(
        CkksBootstrapper::key_requirements(*params).generate(keygen, *ctx, params->slots()));
    std::shared_ptr<const circuits::EncapsulationKeys> encapsulation;
    if (o.ephemeral_hamming_weight > 0) {
        encapsulation = std::make_shared<circuits::EncapsulationKeys>(
            circuits::make_encapsulation_keys_for_tests(keygen, *params, math::test_only_seed(16)));
    }
    const double keygen_seconds = seconds_since(setup_start);
    std::size_t key_bytes = keys->galois.bytes() + keys->relinearization->key.bytes() +
                            (encapsulation ? encapsulation->bytes() : 0);
    const std::size_t key_count = keys->galois.keys.size() + 1 + (encapsulation ? 2 : 0);
    auto evaluator = std::make_shared<ckks::Evaluator>(ctx, keys);
    const auto encode_start = Clock::now();
    CkksBootstrapper bootstrapper(params, evaluator, encapsulation);
    const double encode_seconds = seconds_since(encode_start);

    ckks::Encoder encoder(ctx);
    ckks::Encryptor encryptor(ctx, secret);
    ckks::Decryptor decryptor(ctx, secret);
    std::mt19937_64 rng(51);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<std::complex<double>> values(params->slots());
    for (auto& v : values) v = {u(rng), u(rng)};
    const auto input = encryptor.encrypt(encoder.encode(values, 0));

    if (o.trace) {
        if (encapsulation) {
            throw CommandFailure(ErrorCategory::usage,
                                 "--trace computes the exact stages under the main secret: add "
                                 "--ephemeral-hamming-weight 0 (and a sparse --hamming-weight)");
        }
        math::set_thread_count(o.threads.back());
        trace_bootstrap(*params, bootstrapper, *evaluator, secret, input, values);
        return;
    }
    nlohmann::json runs = nlohmann::json::array();
    for (int threads : o.threads) {
        math::set_thread_count(threads);
        for (int r = 0; r < o.repeat; ++r) {
            circuits::BootstrapTimings t;
            const double cpu_start = math::process_cpu_seconds();
            const auto out = bootstrapper.bootstrap_with_timings(input, &t);
            const double cpu_seconds = math::process_cpu_seconds() - cpu_start;
            const auto stats = ckks::precision(encoder.decode(decryptor.decrypt(out)), values);
            nlohmann::json run;
            run["threads"] = threads;
            run["seconds_total"] = t.total();
            run["cpu_seconds_total"] = cpu_seconds;
            run["seconds"] = {{"mod_raise", t.mod_raise},
                              {"coeffs_to_slots", t.coeffs_to_slots},
                              {"eval_mod", t.eval_mod},
                              {"slots_to_coeffs", t.slots_to_coeffs}};
            run["cpu_seconds"] = {{"mod_raise", t.cpu_mod_raise},
                                  {"coeffs_to_slots", t.cpu_coeffs_to_slots},
                                  {"eval_mod", t.cpu_eval_mod},
                                  {"slots_to_coeffs", t.cpu_slots_to_coeffs}};
            run["precision_bits_mean"] = stats.mean_bits;
            run["precision_bits_min"] = stats.min_bits;
            run["levels_left"] = out.level;
            runs.push_back(run);
        }
    }
    math::set_thread_count(0);

    nlohmann::json j = describe_json(*params);
    j["key_bytes"] = key_bytes;
    j["key_count"] = key_count;
    j["plaintext_bytes"] = bootstrapper.plaintext_bytes();
    j["keygen_seconds"] = keygen_seconds;
    j["encode_seconds"] = encode_seconds;
    j["peak_rss_bytes"] = peak_rss_bytes();
    j["ntt_kernel"] = math::ntt_kernel_name();
    j["runs"] = runs;
    // The headline figures: the last run.
    for (const char* key :
         {"seconds_total", "precision_bits_mean", "precision_bits_min", "levels_left"})
        j[key] = runs.back()[key];
    if (o.json) {
        std::cout << j.dump(2) << "\n";
        return;
    }
    std::cout << params->describe();
    std::cout << std::fixed << std::setprecision(2);
    std::cout << "keys            " << key_count << ", " << key_bytes / 1073741824.0
              << " GiB (generated in " << keygen_seconds << " s)\n";
    std::cout << "DFT plaintexts  " << bootstrapper.plaintext_bytes() / 1073741824.0
              << " GiB (encoded in " << encode_seconds << " s)\n";
    std::cout << "peak RSS        " << peak_rss_bytes() / 1073741824.0 << " GiB; NTT kernel "
              << math::ntt_kernel_name() << "\n";
    std::cout << "threads  total s  ModRaise  CtS      EvalMod  StC      CPU s    bits mean  bits "
                 "min  levels left\n";
    for (const auto& run : runs) {
        std::cout << std::setw(7) << run["threads"].get<int>() << std::setw(9)
                  << run["seconds_total"].get<double>() << std::setw(10)
                  << run["seconds"]["mod_raise"].get<double>() << std::setw(9)
                  << run["seconds"]["coeffs_to_slots"].get<double>() << std::setw(9)
                  << run["seconds"]["eval_mod"].get<double>() << std::setw(9)
                  << run["seconds"]["slots_to_coeffs"].get<double>() << std::setw(9)
                  << run["cpu_seconds_total"].get<double>() << std::setw(11)
                  << run["precision_bits_mean"].get<double>() << std::setw(10)
                  << run["precision_bits_min"].get<double>() << std::setw(13)
                  << run["levels_left"].get<int>() << "\n";
    }
}

void add_shape_options(CLI::App* cmd, BootstrapOptions& o, bool with_log_n) {
    if (with_log_n) {
        cmd->add_option("--log-n", o.log_n, "Ring degree as log2 N")
            ->capture_default_str()
            ->check(CLI::Range(4, 17));
    }
    cmd->add_option("--slots", o.slots, "Slots (0: N/2; only N/2 is supported yet)")
        ->capture_default_str();
    cmd->add_option("--hamming-weight", o.hamming_weight,
                    "Nonzero coefficients of the secret (0: dense ternary)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1 << 17));
    cmd->add_option("--ephemeral-hamming-weight", o.ephemeral_hamming_weight,
                    "Sparse-secret encapsulation: ModRaise under an ephemeral secret of this "
                    "weight, |I| <= h'/2 always (0: none, ModRaise under the main secret)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1 << 17));
    cmd->add_option("--k", o.k, "EvalMod range: |I| <= K after ModRaise")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    cmd->add_option("--residual", o.residual, "Levels left after bootstrapping (40-bit primes)")
        ->capture_default_str()
        ->check(CLI::Range(0, 40));
    cmd->add_option("--cts-levels", o.coeffs_to_slots_levels,
                    "Levels of the CoeffsToSlots DFT factors")
        ->capture_default_str()
        ->check(CLI::Range(1, 16));
    cmd->add_option("--stc-levels", o.slots_to_coeffs_levels,
                    "Levels of the SlotsToCoeffs DFT factors")
        ->capture_default_str()
        ->check(CLI::Range(1, 16));
    cmd->add_option(
           "--special-primes", o.special_primes,
           "61-bit special primes P (more: fewer key-switching digits, smaller keys, larger QP)")
        ->capture_default_str()
        ->check(CLI::Range(1, 30));
    cmd->add_option(
           "--key-byte-weight", o.key_byte_weight,
           "Cost of a byte of rotation keys in the BSGS split, in limb passes (0: time only)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--key-budget", o.key_budget_gib,
                    "Memory budget of the evaluation keys in GiB: the DFT factors' BSGS splits are "
                    "chosen together, the fastest that fits (0: no budget, --key-byte-weight)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1024.0));
    cmd->add_flag("--direct-giant-steps", o.direct_giant_steps,
                  "One rotation key per giant step of the DFT factors instead of chains of "
                  "rotations by +-b (more keys, the same key switches)");
    cmd->add_option("--log-q0", o.log_q0,
                    "Bits of q_0 (inputs at scale 2^40: q_0 / Delta trades EvalMod's error)")
        ->capture_default_str()
        ->check(CLI::Range(46, 61));
    cmd->add_option("--cosine-degree", o.cosine_degree, "EvalMod: degree of the cosine interpolant")
        ->capture_default_str()
        ->check(CLI::Range(2, 255));
    cmd->add_option("--double-angle", o.double_angle, "EvalMod: double-angle steps")
        ->capture_default_str()
        ->check(CLI::Range(0, 10));
    cmd->add_option("--arcsine", o.arcsine_degree,
                    "EvalMod: arcsine correction degree (0: none, 3: two more levels, 5: three)")
        ->capture_default_str()
        ->check(CLI::IsMember({0, 3, 5}));
    cmd->add_option("--eval-mod-bits", o.log_eval_mod_prime, "Bits of the EvalMod primes")
        ->capture_default_str()
        ->check(CLI::Range(30, 61));
    cmd->add_option("--cts-bits", o.log_coeffs_to_slots_prime, "Bits of the CoeffsToSlots primes")
        ->capture_default_str()
        ->check(CLI::Range(30, 61));
    cmd->add_option("--stc-bits", o.log_slots_to_coeffs_prime, "Bits of the SlotsToCoeffs primes")
        ->capture_default_str()
        ->check(CLI::Range(30, 61));
    cmd->add_flag("--toy", o.toy,
                  "Allow rings below the 128-bit bound (INSECURE, for trying small N)");
}

const CommandRegistrar bench_bootstrap_command(24, "bench bootstrap", [](CLI::App& root) {
    auto opts = std::make_shared<BootstrapOptions>();
    CLI::App* bench = command_group(root, "bench", "Benchmarks");
    CLI::App* cmd = bench->add_subcommand(
        "bootstrap", "CKKS bootstrapping: seconds per stage, precision, key memory");
    add_shape_options(cmd, *opts, true);
    cmd->add_option("--threads", opts->threads, "Thread counts across RNS limbs, comma separated")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("--repeat", opts->repeat, "Bootstraps per thread count")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    cmd->add_flag("--trace", opts->trace,
                  "Instead of timing: the error of each stage against its exact value (decrypted "
                  "with the benchmark's secret key)");
    add_json_flag(cmd, opts->json);
    cmd->callback([opts] { run_bench_bootstrap(*opts); });
});

// `henn params` belongs to cmd_ckks.cpp (CKKS layer only); --bootstrap is added here, where the
// circuits layer is linked, and answers before the plain parameter report runs.
const CommandRegistrar params_bootstrap_option(1000, "params --bootstrap", [](CLI::App& root) {
    CLI::App* params = nullptr;
    for (CLI::App* sub : root.get_subcommands([](CLI::App*) { return true; })) {
        if (sub->get_name() == "params") params = sub;
    }
    if (params == nullptr) return;
    auto opts = std::make_shared<BootstrapOptions>();
    auto wanted = std::make_shared<bool>(false);
    params->add_flag("--bootstrap", *wanted,
                     "Bootstrapping parameters instead: level map, log QP, security, h, K, failure "
                     "probability, keys "
                     "(with --log-n, --json and the options below)");
    add_shape_options(params, *opts, false);
    params->parse_complete_callback([params, opts, wanted] {
        if (!*wanted) return;
        if (auto* log_n = params->get_option_no_throw("--log-n"); log_n && log_n->count() > 0) {
            opts->log_n = log_n->as<int>();
        }
        if (auto* json = params->get_option_no_throw("--json"); json && json->count() > 0)
            opts->json = true;
        run_params_bootstrap(*opts);
        throw CLI::Success();
    });
});

}  // namespace
}  // namespace henn::cli
