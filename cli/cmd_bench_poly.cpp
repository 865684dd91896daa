// `henn bench poly`: encrypted Chebyshev polynomial evaluation, time and ct-ct products by degree.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "henn/approx/chebyshev.hpp"
#include "henn/circuits/polynomial.hpp"
#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/math/parallel.hpp"

namespace henn::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct PolyBenchOptions {
    int log_n = 14;
    std::vector<int> degrees = {3, 7, 15, 31, 63};
    std::vector<double> interval = {-8.0, 8.0};
    std::string parity = "none";
    int threads = 1;
    int repeat = 3;
    bool json = false;
    bool markdown = false;
};

template <typename F>
double median_ms(int repeat, F&& body) {
    std::vector<double> samples;
    for (int r = 0; r < repeat; ++r) {
        const auto start = Clock::now();
        body();
        samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
}

approx::Parity parse_parity(const std::string& name) {
    if (name == "none") return approx::Parity::None;
    if (name == "odd") return approx::Parity::Odd;
    if (name == "even") return approx::Parity::Even;
    throw CommandFailure(ErrorCategory::usage, "--parity must be none, odd or even");
}

// Usage errors before any work: the interval, and degrees in range and of the parity asked.
void check_bench_poly_options(const PolyBenchOptions& o, approx::Parity parity) {
    if (o.interval.size() != 2 || !(o.interval[0] < o.interval[1])) {
        throw CommandFailure(ErrorCategory::usage,
                             "--interval needs two numbers lo,hi with lo < hi");
    }
    if (o.degrees.empty())
        throw CommandFailure(ErrorCategory::usage, "--degrees needs at least one degree");
    for (int d : o.degrees) {
        if (d < 1 || d > 1024)
            throw CommandFailure(ErrorCategory::usage, "degrees must lie in [1, 1024]");
        if ((parity == approx::Parity::Odd && d % 2 == 0) ||
            (parity == approx::Parity::Even && d % 2 == 1)) {
            throw CommandFailure(ErrorCategory::usage, "degree " + std::to_string(d) +
                                                           " does not have the parity " + o.parity);
        }
    }
}

void print_bench_poly_markdown(const std::string& chain, double product_ms,
                               const nlohmann::json& rows) {
    std::cout << std::fixed;
    std::cout << chain
              << "; one ct-ct product (relinearize + rescale, top level): " << std::setprecision(1)
              << product_ms << " ms\n\n";
    std::cout << "| degree | parity | depth | ct-ct products | naive (d-1) | baby steps 2^l | "
                 "time (ms) | time / product | "
                 "precision min / mean (bits) |\n";
    std::cout << "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    for (const auto& r : rows) {
        std::cout << "| " << r["degree"].get<int>() << " | " << r["parity"].get<std::string>()
                  << " | " << r["depth"].get<int>() << " | " << r["ct_multiplications"].get<int>()
                  << " | " << r["naive_multiplications"].get<int>() << " | "
                  << (1 << r["baby_step_log2"].get<int>()) << " | " << std::setprecision(0)
                  << r["median_ms"].get<double>() << " | " << std::setprecision(1)
                  << r["time_in_products"].get<double>() << " | "
                  << r["precision_min_bits"].get<double>() << " / "
                  << r["precision_mean_bits"].get<double>() << " |\n";
    }
}

void print_bench_poly_text(const std::string& chain, double product_ms,
                           const nlohmann::json& rows) {
    std::cout << std::fixed;
    std::cout << chain << "\n";
    std::cout << "one ct-ct product (relinearize + rescale, top level): " << std::setprecision(1)
              << product_ms << " ms\n";
    std::cout << "degree parity depth products naive    ms  x product  bits(min/mean)\n";
    for (const auto& r : rows) {
        std::cout << std::setw(6) << r["degree"].get<int>() << " " << std::setw(6)
                  << r["parity"].get<std::string>() << std::setw(6) << r["depth"].get<int>()
                  << std::setw(9) << r["ct_multiplications"].get<int>() << std::setw(6)
                  << r["naive_multiplications"].get<int>() << std::setw(7) << std::setprecision(0)
                  << r["median_ms"].get<double>() << std::setw(10) << std::setprecision(1)
                  << r["time_in_products"].get<double>() << "  "
                  << r["precision_min_bits"].get<double>() << " / "
                  << r["precision_mean_bits"].get<double>() << "\n";
    }
}

void run_bench_poly(const PolyBenchOptions& o) {
    const approx::Parity parity = parse_parity(o.parity);
    check_bench_poly_options(o, parity);
    const approx::Interval interval{o.interval[0], o.interval[1]};
    math::set_thread_count(o.threads);

    // One chain deep enough for the largest degree (plus the interval change).
    const int max_degree = *std::max_element(o.degrees.begin(), o.degrees.end());
    const bool unit = interval.lo == -1.0 && interval.hi == 1.0;
    const int levels = circuits::multiplicative_depth(max_degree) + (unit ? 0 : 1);
    ckks::ParametersLiteral lit = ckks::ParametersLiteral::for_depth(levels, 40, 60);
    lit.log_n = o.log_n;
    ckks::ContextPtr ctx;
    try {
        ctx = ckks::Context::create(lit);
    } catch (const ckks::ParameterError& e) {
        throw CommandFailure(ErrorCategory::usage, std::string("bench poly: ") + e.what());
    }
    ckks::KeyGenerator keygen(ctx);
    auto keys = std::make_shared<ckks::EvaluationKeys>(keygen.evaluation_keys({}, false));
    const ckks::Encoder encoder(ctx);
    const ckks::Encryptor encryptor(ctx, keygen.public_key());
    const ckks::Decryptor decryptor(ctx, keygen.secret_key());
    const ckks::Evaluator evaluator(ctx, keys);
    const circuits::ChebyshevEvaluator poly_evaluator(evaluator);

    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> in_interval(interval.lo, interval.hi);
    std::vector<double> xs(ctx->max_slots());
    for (auto& x : xs) x = in_interval(rng);
    const ckks::Ciphertext x = encryptor.encrypt(encoder.encode(xs));

    // The unit of cost: one ct-ct product with relinearization and rescale at the top level.
    const double product_ms = median_ms(std::max(3, o.repeat), [&] {
        ckks::Ciphertext p = evaluator.multiply_relin(x, x);
        evaluator.rescale_inplace(p);
    });

    nlohmann::json rows = nlohmann::json::array();
    for (int degree : o.degrees) {
        std::uniform_real_distribution<double> coefficient(-1.0, 1.0);
        std::vector<double> c(static_cast<std::size_t>(degree + 1));
        for (auto& v : c) v = coefficient(rng);
        approx::ChebyshevPolynomial p(c, interval);
        if (parity != approx::Parity::None) p = p.with_parity(parity, /*keep_constant=*/true);

        circuits::EvaluationReport report;
        ckks::Ciphertext y;
        const double ms =
            median_ms(o.repeat, [&] { y = poly_evaluator.evaluate(x, p, 0, &report); });
        const std::vector<double> got = encoder.decode_real(decryptor.decrypt(y));
        std::vector<double> expected(xs.size());
        for (std::size_t i = 0; i < xs.size(); ++i) expected[i] = p.evaluate(xs[i]);
        const ckks::PrecisionStats stats =
            ckks::precision(std::span<const double>(got.data(), expected.size()),
                            std::span<const double>(expected));

        nlohmann::json row;
        row["degree"] = degree;
        row["parity"] = approx::parity_name(report.plan.parity);
        row["depth"] = report.levels_consumed;
        row["ct_multiplications"] = report.ct_multiplications;
        row["baby_step_log2"] = report.plan.baby_step_log2;
        row["naive_multiplications"] = degree - 1;  // every T_2 .. T_d, one product each
        row["rescales"] = report.rescales;
        row["median_ms"] = ms;
        row["time_in_products"] = ms / product_ms;
        row["precision_min_bits"] = stats.min_bits;
        row["precision_mean_bits"] = stats.mean_bits;
        rows.push_back(row);
    }

    std::ostringstream chain;
    chain << "log N = " << o.log_n << ", " << ctx->q_count() << " primes in Q, " << ctx->p_count()
          << " in P, log2(QP) = " << std::fixed << std::setprecision(1) << ctx->log_qp()
          << ", scale 2^40, " << o.threads << " thread(s), interval [" << interval.lo << ", "
          << interval.hi << "], " << ctx->max_slots() << " slots";
    if (o.json) {
        nlohmann::json out;
        out["parameters"] = chain.str();
        out["product_ms"] = product_ms;
        out["rows"] = rows;
        std::cout << out.dump(2) << "\n";
        return;
    }
    if (o.markdown) {
        print_bench_poly_markdown(chain.str(), product_ms, rows);
    } else {
        print_bench_poly_text(chain.str(), product_ms, rows);
    }
}

const CommandRegistrar bench_poly_command(21, "bench poly", [](CLI::App& root) {
    auto opts = std::make_shared<PolyBenchOptions>();
    CLI::App* bench = command_group(root, "bench", "Benchmarks (median times of repeated runs)");
    CLI::App* cmd = bench->add_subcommand("poly",
                                          "Time encrypted Chebyshev polynomial evaluation "
                                          "(depth-optimal baby-step giant-step) by degree");
    cmd->add_option("--log-n", opts->log_n,
                    "Ring degree as log2 N (the chain must be 128-bit secure)")
        ->capture_default_str()
        ->check(CLI::Range(12, 16));
    cmd->add_option("--degrees", opts->degrees, "Degrees, comma separated")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("--interval", opts->interval,
                    "Input interval lo,hi (-1,1 skips the interval change)")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("--parity", opts->parity, "Polynomial structure: none, odd or even")
        ->capture_default_str()
        ->check(CLI::IsMember({"none", "odd", "even"}));
    add_threads_option(cmd, opts->threads);
    cmd->add_option("--repeat", opts->repeat, "Runs per degree (the median is reported)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    add_json_flag(cmd, opts->json);
    cmd->add_flag("--markdown", opts->markdown, "Print a Markdown table (for docs/benchmarks.md)");
    cmd->callback([opts] { run_bench_poly(*opts); });
});

}  // namespace
}  // namespace henn::cli
