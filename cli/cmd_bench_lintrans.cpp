// `henn bench lintrans`: a D-diagonal linear transform on one ciphertext, baby-step giant-step
// with double hoisting against one hoisted decomposition per transform and against the naive
// diagonal method (one independent rotation per diagonal), in the same run: median times, key
// switches, key bytes, precision, and the ratio speedup_vs_naive.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "henn/circuits/linear_transform.hpp"
#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/parallel.hpp"
#include "henn/math/random.hpp"
#include "henn/math/vector_ops.hpp"

namespace henn::cli {
namespace {

using Clock = std::chrono::steady_clock;
using circuits::LinearTransform;

struct LintransOptions {
    std::vector<int> log_n = {13, 14};
    std::vector<int> diagonals = {64};
    int threads = 1;
    int repeat = 3;
    bool json = false;
    bool markdown = false;
    bool no_naive = false;
    std::size_t baby = 0;
    double max_naive_key_gib = 4;
};

// Median wall-clock and median process CPU time of `repeat` runs. On a loaded machine the CPU
// time (all threads of this process) is the steadier measure of the work done.
template <typename F>
std::pair<double, double> median_ms(int repeat, F&& body) {
    std::vector<double> wall, cpu;
    for (int r = 0; r < repeat; ++r) {
        const auto start = Clock::now();
        const double cpu_start = 1e3 * math::process_cpu_seconds();
        body();
        cpu.push_back(1e3 * math::process_cpu_seconds() - cpu_start);
        wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::sort(wall.begin(), wall.end());
    std::sort(cpu.begin(), cpu.end());
    return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

// The chain of each ring: 40-bit primes under a 60-bit q_0, as many levels as a typical circuit
// around a transform at that size uses, one digit per prime below 2^15 and three digits above.
ckks::ParametersLiteral chain_for(int log_n) {
    int levels = 2, dnum = 0;
    switch (log_n) {
        case 13:
            levels = 2;
            break;
        case 14:
            levels = 5;
            break;
        case 15:
            levels = 10;
            dnum = 3;
            break;
        case 16:
            levels = 20;
            dnum = 3;
            break;
        default:
            throw CommandFailure(ErrorCategory::usage, "--log-n must lie in 13..16");
    }
    ckks::ParametersLiteral lit =
        ckks::ParametersLiteral::for_depth(levels, 40, 60, ckks::SecurityLevel::k128, dnum);
    if (lit.log_n > log_n)
        throw CommandFailure(ErrorCategory::usage,
                             "no secure chain for log N = " + std::to_string(log_n));
    lit.log_n = log_n;
    return lit;
}

struct MethodResult {
    std::string name;
    double ms = 0;
    double cpu_ms = 0;
    std::size_t key_switches = 0;
    std::size_t keys = 0;
    std::size_t key_bytes = 0;
    std::size_t plaintext_bytes = 0;
    double precision_min_bits = 0, precision_mean_bits = 0;
    std::size_t baby = 0;
    bool ran = false;
};

nlohmann::json to_json(const MethodResult& r) {
    nlohmann::json j;
    j["median_ms"] = r.ms;
    j["median_cpu_ms"] = r.cpu_ms;
    j["key_switches"] = r.key_switches;
    j["keys"] = r.keys;
    j["key_bytes"] = r.key_bytes;
    j["plaintext_bytes"] = r.plaintext_bytes;
    j["precision_min_bits"] = r.precision_min_bits;
    j["precision_mean_bits"] = r.precision_mean_bits;
    if (r.baby) j["baby_steps"] = r.baby;
    return j;
}

void run_bench_lintrans(const LintransOptions& o) {
    math::set_thread_count(o.threads);
    nlohmann::json rows = nlohmann::json::array();
    std::vector<std::string> lines;
    for (int log_n : o.log_n) {
        const ckks::ParametersLiteral lit = chain_for(log_n);
        const ckks::ContextPtr ctx = ckks::Context::create(lit);
        const std::size_t slots = ctx->max_slots();
        ckks::KeyGenerator keygen(ctx, math::test_only_seed(1));
        ckks::Encoder encoder(ctx);
        ckks::Encryptor encryptor(ctx, keygen.public_key());
        ckks::Decryptor decryptor(ctx, keygen.secret_key());
        std::mt19937_64 rng(5);
        std::uniform_real_distribution<double> dist(-1, 1);
        std::vector<std::complex<double>> x(slots);
        for (auto& v : x) v = {dist(rng), dist(rng)};
        const ckks::Ciphertext ct = encryptor.encrypt(encoder.encode(x));
        for (int d : o.diagonals) {
            if (d < 1 || static_cast<std::size_t>(d) > slots) {
                throw CommandFailure(ErrorCategory::usage, "--diagonals must lie in [1, N/2] (" +
                                                               std::to_string(slots) + ")");
            }
            // Diagonals 0..D-1 (a band: convolution-like maps; D = N/2 is a dense matrix).
            circuits::Diagonals diag;
            diag.slots = slots;
            for (int k = 0; k < d; ++k) {
                auto& v = diag.diagonals[static_cast<std::size_t>(k)];
                v.resize(slots);
                for (auto& e : v) e = {dist(rng), dist(rng)};
            }
            const std::vector<std::complex<double>> expected = diag.apply(x);

            std::vector<MethodResult> results;
            for (auto method : {LinearTransform::Method::Bsgs, LinearTransform::Method::Hoisted,
                                LinearTransform::Method::Naive}) {
                MethodResult r;
                r.name = method == LinearTransform::Method::Bsgs      ? "bsgs_double_hoisting"
                         : method == LinearTransform::Method::Hoisted ? "hoisted"
                                                                      : "naive";
                const std::size_t naive_bytes =
                    static_cast<std::size_t>(d - 1) * ckks::switch_key_bytes(*ctx);
                if (method != LinearTransform::Method::Bsgs &&
                    (o.no_naive ||
                     static_cast<double>(naive_bytes) > o.max_naive_key_gib * (1ull << 30))) {
                    r.keys = static_cast<std::size_t>(d - 1);
                    r.key_switches = r.keys;
                    r.key_bytes = naive_bytes;
                    results.push_back(r);
                    continue;
                }
                LinearTransform::Options lo;
                lo.method = method;
                if (method == LinearTransform::Method::Bsgs) lo.baby = o.baby;
                const LinearTransform lt(encoder, diag, lo);
                auto keys = std::make_shared<ckks::EvaluationKeys>();
                keys->galois = keygen.galois_keys(lt.rotation_steps());
                const ckks::Evaluator ev(ctx, keys);
                ckks::Ciphertext y;
                std::tie(r.ms, r.cpu_ms) = median_ms(o.repeat, [&] { y = lt.evaluate(ev, ct); });
                const auto got = encoder.decode(decryptor.decrypt(y));
                const auto stats = ckks::precision(std::span<const std::complex<double>>(got),
                                                   std::span<const std::complex<double>>(expected));
                r.precision_min_bits = stats.min_bits;
                r.precision_mean_bits = stats.mean_bits;
                r.key_switches = lt.key_switches();
                r.keys = lt.rotation_steps().size();
                r.key_bytes = keys->galois.bytes();
                r.plaintext_bytes = lt.plaintext_bytes();
                r.baby = method == LinearTransform::Method::Bsgs ? lt.plan().baby : 0;
                r.ran = true;
                results.push_back(r);
            }
            nlohmann::json row;
            row["log_n"] = log_n;
            row["slots"] = slots;
            row["diagonals"] = d;
            row["q_primes"] = ctx->q_count();
            row["p_primes"] = ctx->p_count();
            row["digits"] = ctx->digit_count(ctx->max_level());
            row["level"] = ct.level;
            for (const auto& r : results) {
                if (r.ran) {
                    row[r.name] = to_json(r);
                } else {
                    row[r.name] = {{"skipped", true},
                                   {"key_switches", r.key_switches},
                                   {"key_bytes", r.key_bytes}};
                }
            }
            const MethodResult& bsgs = results[0];
            if (results[2].ran) {
                row["speedup_vs_naive"] = results[2].ms / bsgs.ms;
                row["speedup_vs_naive_cpu"] = results[2].cpu_ms / bsgs.cpu_ms;
            }
            if (results[1].ran) {
                row["speedup_vs_hoisted"] = results[1].ms / bsgs.ms;
                row["speedup_vs_hoisted_cpu"] = results[1].cpu_ms / bsgs.cpu_ms;
            }
            rows.push_back(row);
        }
    }
    std::ostringstream header;
    header << "instruction set: NTT " << math::ntt_kernel_name() << ", vector kernels "
           << math::vector_kernel_name() << "; " << o.threads
           << " thread(s); 40-bit primes under a 60-bit q_0, ciphertext at the top level";
    if (o.json) {
        nlohmann::json out;
        out["setup"] = header.str();
        out["rows"] = rows;
        std::cout << out.dump(2) << "\n";
        return;
    }
    auto ms = [](const nlohmann::json& m, const char* key = "median_ms") {
        if (m.contains("skipped")) return std::string("skipped");
        std::ostringstream s;
        s << std::fixed << std::setprecision(m[key].get<double>() < 100 ? 1 : 0)
          << m[key].get<double>();
        return s.str();
    };
    auto mib = [](const nlohmann::json& m) {
        std::ostringstream s;
        s << std::fixed << std::setprecision(0) << m["key_bytes"].get<double>() / (1 << 20);
        return s.str();
    };
    auto ratio = [](const nlohmann::json& row, const char* key) {
        if (!row.contains(key)) return std::string("-");
        std::ostringstream s;
        s << std::fixed << std::setprecision(1) << row[key].get<double>() << "x";
        return s.str();
    };
    std::cout << header.str() << "\n";
    if (o.markdown) {
        std::cout << "\n| log N | diagonals | Q / P primes | BSGS b | key switches BSGS / naive | "
                     "BSGS ms (CPU) | "
                     "hoisted ms (CPU) | naive ms (CPU) | speedup vs naive (CPU) | vs hoisted "
                     "(CPU) | keys MiB BSGS / naive | "
                     "precision BSGS min/mean (bits) |\n"
                     "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                     "| ---: |\n";
    }
    for (const auto& row : rows) {
        const auto& b = row["bsgs_double_hoisting"];
        const auto& n = row["naive"];
        std::ostringstream prec;
        prec << std::fixed << std::setprecision(1) << b["precision_min_bits"].get<double>() << " / "
             << b["precision_mean_bits"].get<double>();
        if (o.markdown) {
            std::cout << "| " << row["log_n"] << " | " << row["diagonals"] << " | "
                      << row["q_primes"] << " / " << row["p_primes"] << " | " << b["baby_steps"]
                      << " | " << b["key_switches"] << " / " << n["key_switches"] << " | " << ms(b)
                      << " (" << ms(b, "median_cpu_ms") << ") | " << ms(row["hoisted"]) << " ("
                      << ms(row["hoisted"], "median_cpu_ms") << ") | " << ms(n) << " ("
                      << ms(n, "median_cpu_ms") << ") | " << ratio(row, "speedup_vs_naive") << " ("
                      << ratio(row, "speedup_vs_naive_cpu") << ") | "
                      << ratio(row, "speedup_vs_hoisted") << " ("
                      << ratio(row, "speedup_vs_hoisted_cpu") << ") | " << mib(b) << " / " << mib(n)
                      << " | " << prec.str() << " |\n";
        } else {
            std::cout << "log N " << row["log_n"] << ", " << row["diagonals"]
                      << " diagonals: BSGS (b = " << b["baby_steps"] << ", " << b["key_switches"]
                      << " key switches) " << ms(b) << " ms, hoisted " << ms(row["hoisted"])
                      << " ms, naive (" << n["key_switches"] << " key switches) " << ms(n)
                      << " ms; speedup vs naive " << ratio(row, "speedup_vs_naive") << " (CPU time "
                      << ratio(row, "speedup_vs_naive_cpu") << "), vs hoisted "
                      << ratio(row, "speedup_vs_hoisted") << "; keys " << mib(b) << " MiB vs "
                      << mib(n) << " MiB; precision " << prec.str() << " bits\n";
        }
    }
}

const CommandRegistrar bench_lintrans_command(22, "bench lintrans", [](CLI::App& root) {
    auto opts = std::make_shared<LintransOptions>();
    CLI::App* bench = command_group(root, "bench", "Benchmarks (median times of repeated runs)");
    CLI::App* cmd = bench->add_subcommand("lintrans",
                                          "Time a D-diagonal linear transform: BSGS with double "
                                          "hoisting vs the naive diagonal method");
    cmd->add_option("--log-n", opts->log_n, "Ring degrees as log2 N, comma separated (13..16)")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::Range(13, 16));
    cmd->add_option("--diagonals", opts->diagonals,
                    "Diagonal counts D (diagonals 0..D-1), comma separated")
        ->delimiter(',')
        ->capture_default_str();
    add_threads_option(cmd, opts->threads);
    cmd->add_option("--repeat", opts->repeat, "Runs per method (the median is reported)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    cmd->add_option("--baby", opts->baby,
                    "BSGS baby-step count, a power of two (0: the cost model's choice)")
        ->capture_default_str();
    cmd->add_flag("--no-naive", opts->no_naive,
                  "Time BSGS only (the per-diagonal methods need D - 1 keys)");
    cmd->add_option("--max-naive-key-gib", opts->max_naive_key_gib,
                    "Skip the per-diagonal methods when their keys would exceed this many GiB")
        ->capture_default_str();
    add_json_flag(cmd, opts->json);
    cmd->add_flag("--markdown", opts->markdown, "Print a Markdown table (for docs/benchmarks.md)");
    cmd->callback([opts] { run_bench_lintrans(*opts); });
});

}  // namespace
}  // namespace henn::cli
