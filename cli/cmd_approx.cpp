// henn approx: polynomial approximations of activation functions, their errors and their cost
// under encryption; --compare puts every method side by side and --plot draws them with gnuplot.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "henn/approx/approximate.hpp"
#include "henn/circuits/polynomial_plan.hpp"

extern char** environ;

namespace henn::cli {
namespace {

using namespace henn::approx;
using json = nlohmann::json;

struct ApproxArgs {
    std::string function;
    std::string method = "minimax";
    int degree = 3;
    std::string degrees;  // --compare over several degrees
    std::string interval = "-8,8";
    bool json_output = false;
    bool compare = false;
    bool markdown = false;
    std::string plot;
    std::string samples_file;
    double normal_samples_sigma = 0.0;
    std::optional<double> center;
    std::optional<double> steepness;
    int points = 0;
    double uniform_mix = 0.01;
};

double parse_number(const std::string& text, const std::string& what) {
    std::size_t used = 0;
    double value = 0.0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        throw CommandFailure(ErrorCategory::usage, what + ": '" + text + "' is not a number");
    }
    if (used != text.size() || !std::isfinite(value))
        throw CommandFailure(ErrorCategory::usage,
                             what + ": '" + text + "' is not a finite number");
    return value;
}

Interval parse_interval(const std::string& text) {
    const auto comma = text.find(',');
    if (comma == std::string::npos)
        throw CommandFailure(ErrorCategory::usage, "--interval takes A,B (e.g. --interval=-8,8)");
    Interval interval{parse_number(text.substr(0, comma), "--interval"),
                      parse_number(text.substr(comma + 1), "--interval")};
    if (!(interval.lo < interval.hi))
        throw CommandFailure(ErrorCategory::usage, "--interval A,B needs A < B");
    return interval;
}

std::vector<int> parse_degrees(const std::string& text) {
    std::vector<int> degrees;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        const double d = parse_number(item, "--degrees");
        if (d != std::floor(d) || d < 0 || d > 63)
            throw CommandFailure(ErrorCategory::usage,
                                 "--degrees: each degree must be an integer in [0, 63]");
        degrees.push_back(static_cast<int>(d));
    }
    if (degrees.empty())
        throw CommandFailure(ErrorCategory::usage, "--degrees needs at least one degree");
    return degrees;
}

// Whitespace- or comma-separated numbers; '#' starts a comment.
std::vector<double> read_samples(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw CommandFailure(ErrorCategory::io, "cannot open samples file '" + path + "'");
    constexpr std::size_t kMaxSamples = 100'000'000;
    std::vector<double> samples;
    std::string line;
    std::size_t line_number = 0;
    while (std::getline(in, line)) {
        ++line_number;
        if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        for (char& c : line) {
            if (c == ',' || c == ';' || c == '\t' || c == '\r') c = ' ';
        }
        std::stringstream stream(line);
        std::string token;
        while (stream >> token) {
            std::size_t used = 0;
            double value = 0.0;
            try {
                value = std::stod(token, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != token.size() || !std::isfinite(value)) {
                throw CommandFailure(ErrorCategory::data, path + ":" + std::to_string(line_number) +
                                                              ": '" + token +
                                                              "' is not a finite number");
            }
            if (samples.size() >= kMaxSamples)
                throw CommandFailure(ErrorCategory::data, path + ": more than 100 million samples");
            samples.push_back(value);
        }
    }
    if (samples.empty())
        throw CommandFailure(ErrorCategory::data, "samples file '" + path + "' holds no numbers");
    return samples;
}

// A synthetic stand-in for recorded pre-activations: N(0, sigma^2), fixed seed, 10000 values.
std::vector<double> normal_samples(double sigma) {
    std::mt19937_64 rng(20240601);
    std::normal_distribution<double> normal(0.0, sigma);
    std::vector<double> samples(10000);
    for (double& v : samples) v = normal(rng);
    return samples;
}

ApproxRequest make_request(const ApproxArgs& a, Method method, int degree,
                           const std::vector<double>& samples) {
    ApproxRequest r;
    r.function = builtin_function(a.function);
    r.method = method;
    r.degree = degree;
    r.interval = parse_interval(a.interval);
    r.samples = samples;
    r.taylor_center = a.center;
    r.derivative_steepness = a.steepness;
    r.least_squares_points = a.points;
    r.empirical_uniform_mix = a.uniform_mix;
    return r;
}

// What evaluating the approximation under encryption costs: the evaluator's own plan.
circuits::PolynomialPlan cost(const Approximation& a) {
    return circuits::plan_polynomial(a.polynomial);
}

json to_json(const Approximation& a) {
    const circuits::PolynomialPlan plan = cost(a);
    json j;
    j["function"] = a.function;
    j["method"] = method_name(a.method);
    j["degree"] = a.degree;
    j["interval"] = {a.interval.lo, a.interval.hi};
    j["power_coefficients"] = a.power_coefficients;
    j["chebyshev_coefficients"] = a.polynomial.coefficients();
    j["max_error"] = a.interval_error.max_error;
    j["l2_error"] = a.interval_error.l2_error;
    j["depth"] = plan.depth;
    j["ct_multiplications"] = plan.ct_multiplications;
    j["basis"] = circuits::basis_name(plan.basis);
    if (a.sample_error) {
        j["sample_max_error"] = a.sample_error->max_error;
        j["sample_l2_error"] = a.sample_error->l2_error;
    }
    j["parity"] = parity_name(a.parity);
    j["power_basis_roundoff"] = a.power_basis_roundoff;
    json details = json::object();
    for (const auto& [key, value] : a.details) details[key] = value;
    j["details"] = details;
    j["warnings"] = a.warnings;
    return j;
}

void print_coefficients(const char* title, const std::vector<double>& c) {
    std::printf("%s\n", title);
    for (std::size_t k = 0; k < c.size(); ++k) std::printf("  [%2zu] % .17g\n", k, c[k]);
}

void print_approximation(const Approximation& a) {
    std::printf("%s on [%g, %g], method %s, degree %d\n", a.function.c_str(), a.interval.lo,
                a.interval.hi, method_name(a.method).c_str(), a.degree);
    print_coefficients("chebyshev coefficients (of T_k(t), t = (2x - a - b) / (b - a)):",
                       a.polynomial.coefficients());
    print_coefficients("power coefficients (ascending powers of x):", a.power_coefficients);
    std::printf("max error %.6g, L2 (RMS over the interval) error %.6g\n",
                a.interval_error.max_error, a.interval_error.l2_error);
    if (a.sample_error) {
        std::printf("on the sample: max error %.6g, RMS error %.6g\n", a.sample_error->max_error,
                    a.sample_error->l2_error);
    }
    const circuits::PolynomialPlan plan = cost(a);
    if (plan.basis == circuits::PolynomialBasis::chebyshev) {
        std::printf(
            "encrypted evaluation: depth %d, %d ciphertext-ciphertext multiplications (chebyshev "
            "basis, parity %s, "
            "baby steps 2^%d)\n",
            plan.depth, plan.ct_multiplications, parity_name(plan.chebyshev.parity).c_str(),
            plan.chebyshev.baby_step_log2);
    } else {
        std::printf(
            "encrypted evaluation: depth %d, %d ciphertext-ciphertext multiplications (power "
            "basis, degree %d)\n",
            plan.depth, plan.ct_multiplications, plan.degree);
    }
    std::printf("power-basis export roundoff on the interval: %.3g\n", a.power_basis_roundoff);
    for (const auto& [key, value] : a.details) std::printf("%s = %.6g\n", key.c_str(), value);
    for (const auto& warning : a.warnings) std::printf("warning: %s\n", warning.c_str());
}

// Runs gnuplot on a script without a shell (the file names never reach one).
void run_gnuplot(const std::filesystem::path& script) {
    const std::string program = "gnuplot";
    const std::string script_path = script.string();
    char* argv[] = {const_cast<char*>(program.c_str()), const_cast<char*>(script_path.c_str()),
                    nullptr};
    pid_t pid = 0;
    if (posix_spawnp(&pid, "gnuplot", nullptr, nullptr, argv, environ) != 0) {
        throw CommandFailure(ErrorCategory::io,
                             "cannot run gnuplot (install the Debian package gnuplot-nox)");
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw CommandFailure(ErrorCategory::io,
                             "gnuplot failed (status " + std::to_string(status) + ")");
    }
}

// Curves against the function (top) and |error| on a log scale (bottom).
void plot(const std::string& file, const TargetFunction& f,
          const std::vector<Approximation>& curves, int degree) {
    const std::filesystem::path out(file);
    const std::string extension = out.extension().string();
    std::string terminal;
    if (extension == ".png") {
        terminal = "pngcairo size 1100,900 font 'sans,11'";
    } else if (extension == ".svg") {
        terminal = "svg size 1100,900 dynamic font 'sans,11'";
    } else {
        throw CommandFailure(ErrorCategory::usage, "--plot: the file must end in .png or .svg");
    }
    if (file.find_first_of("'\"\n\\") != std::string::npos)
        throw CommandFailure(ErrorCategory::usage, "--plot: file name with quotes or backslashes");
    if (curves.empty())
        throw CommandFailure(ErrorCategory::data, "nothing to plot: every method failed");
    const Interval in = curves.front().interval;
    char directory_template[] = "/tmp/henn-approx-plot-XXXXXX";
    if (mkdtemp(directory_template) == nullptr)
        throw CommandFailure(ErrorCategory::io, "cannot create a temporary directory");
    const std::filesystem::path directory(directory_template);
    const std::filesystem::path data = directory / "curves.dat";
    const std::filesystem::path script = directory / "plot.gp";
    double lo = INFINITY, hi = -INFINITY;
    {
        std::ofstream d(data);
        constexpr int kPoints = 1200;
        for (int i = 0; i <= kPoints; ++i) {
            const double x = in.lo + in.width() * i / kPoints;
            const double y = f.value(x);
            lo = std::min(lo, y);
            hi = std::max(hi, y);
            d << x << ' ' << y;
            for (const auto& a : curves) {
                const double p = a.polynomial.evaluate(x);
                d << ' ' << p << ' ' << std::max(std::abs(y - p), 1e-17);
            }
            d << '\n';
        }
    }
    const double margin = 0.25 * (hi - lo) + 1e-9;
    // |error| axis: from 1e-4 of the smallest max error (exact zeros at interpolation points
    // would otherwise stretch it to 1e-17) to the largest, capped so Taylor's blow-up stays
    // legible.
    double smallest_max = INFINITY, largest_max = 0.0;
    for (const auto& a : curves) {
        smallest_max = std::min(smallest_max, a.interval_error.max_error);
        largest_max = std::max(largest_max, a.interval_error.max_error);
    }
    const double error_floor = std::max(smallest_max * 1e-4, 1e-17);
    const double error_ceiling = std::min(largest_max * 2.0, std::max(smallest_max, 1e-16) * 1e6);
    // One colour per method in both panels.
    const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                             "#9467bd", "#8c564b", "#e377c2"};
    auto colour = [&](Method m) { return palette[static_cast<int>(m) % 7]; };
    {
        std::ofstream s(script);
        s << "set terminal " << terminal << "\n";
        s << "set output '" << file << "'\n";
        s << "set multiplot layout 2,1 title '" << f.name << ", degree " << degree << ", on ["
          << in.lo << ", " << in.hi << "]'\n";
        s << "set key outside right\nset grid\n";
        s << "set xrange [" << in.lo << ":" << in.hi << "]\n";
        s << "set yrange [" << lo - margin << ":" << hi + margin << "]\n";
        s << "set ylabel 'value'\n";
        s << "plot '" << data.string() << "' using 1:2 with lines lw 3 lc rgb 'black' title '"
          << f.name << "'";
        for (std::size_t k = 0; k < curves.size(); ++k) {
            s << ", '' using 1:" << 3 + 2 * k << " with lines lw 2 lc rgb '"
              << colour(curves[k].method) << "' title '" << method_name(curves[k].method) << "'";
        }
        s << "\nset logscale y\nset yrange [" << error_floor << ":" << error_ceiling
          << "]\nset ylabel '|f - p|'\nset format y '10^{%L}'\n";
        s << "plot ";
        for (std::size_t k = 0; k < curves.size(); ++k) {
            s << (k ? ", " : "") << "'" << data.string() << "' using 1:" << 4 + 2 * k
              << " with lines lw 2 lc rgb '" << colour(curves[k].method) << "' title '"
              << method_name(curves[k].method) << "'";
        }
        s << "\nunset multiplot\n";
    }
    run_gnuplot(script);
    std::filesystem::remove_all(directory);
}

struct CompareRow {
    Method method;
    std::optional<Approximation> result;
    std::string failure;
};

std::vector<CompareRow> compare_methods(const ApproxArgs& a, int degree,
                                        const std::vector<double>& samples) {
    std::vector<CompareRow> rows;
    for (Method m : all_methods()) {
        CompareRow row{m, std::nullopt, ""};
        if (m == Method::Empirical && samples.empty()) {
            row.failure = "needs --samples or --normal-samples";
        } else {
            try {
                row.result = approximate(make_request(a, m, degree, samples));
            } catch (const std::exception& e) {
                row.failure = e.what();
            }
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

void print_compare_table(const std::vector<CompareRow>& rows, bool with_samples) {
    std::printf("%-16s %12s %12s", "method", "max error", "L2 error");
    if (with_samples) std::printf(" %12s %12s", "sample max", "sample RMS");
    std::printf(" %6s %8s  %s\n", "depth", "ct-mults", "notes");
    for (const auto& row : rows) {
        std::printf("%-16s", method_name(row.method).c_str());
        if (!row.result) {
            std::printf(" n/a: %s\n", row.failure.c_str());
            continue;
        }
        const Approximation& r = *row.result;
        std::printf(" %12.4e %12.4e", r.interval_error.max_error, r.interval_error.l2_error);
        if (with_samples)
            std::printf(" %12.4e %12.4e", r.sample_error->max_error, r.sample_error->l2_error);
        const circuits::PolynomialPlan plan = cost(r);
        std::printf(" %6d %8d ", plan.depth, plan.ct_multiplications);
        for (const auto& [key, value] : r.details) {
            if (key == "steepness" || key == "taylor_center")
                std::printf(" %s=%.4g", key.c_str(), value);
        }
        std::printf("\n");
    }
}

std::string format_cell(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3g", value);
    return buffer;
}

// Markdown tables (method x degree) of max and L2 errors, for docs/approximations.md.
void print_markdown(const ApproxArgs& a, const std::vector<int>& degrees,
                    const std::vector<std::vector<CompareRow>>& all, bool with_samples) {
    const Interval in = parse_interval(a.interval);
    auto table = [&](const std::string& title, auto cell) {
        std::printf("\n%s, %s on [%g, %g]\n\n| method |", title.c_str(), a.function.c_str(), in.lo,
                    in.hi);
        for (int d : degrees) std::printf(" d=%d |", d);
        std::printf("\n| --- |");
        for (std::size_t i = 0; i < degrees.size(); ++i) std::printf(" ---: |");
        std::printf("\n");
        for (std::size_t m = 0; m < all.front().size(); ++m) {
            std::printf("| %s |", method_name(all.front()[m].method).c_str());
            for (const auto& rows : all) {
                const auto& row = rows[m];
                std::printf(" %s |", row.result ? cell(*row.result).c_str() : "n/a");
            }
            std::printf("\n");
        }
    };
    table("max error",
          [](const Approximation& r) { return format_cell(r.interval_error.max_error); });
    table("L2 (RMS) error",
          [](const Approximation& r) { return format_cell(r.interval_error.l2_error); });
    if (with_samples)
        table("RMS error on the sample",
              [](const Approximation& r) { return format_cell(r.sample_error->l2_error); });
    std::printf("\n| cost | ");
    for (int d : degrees) std::printf(" d=%d |", d);
    std::printf("\n| --- |");
    for (std::size_t i = 0; i < degrees.size(); ++i) std::printf(" ---: |");
    // The minimax result's own cost (circuits::plan_polynomial): its parity and effective degree
    // can make it cheaper than the nominal degree's plan.
    std::printf("\n| depth / ct-ct multiplications (minimax result) |");
    for (const auto& rows : all) {
        for (const auto& row : rows) {
            if (row.method != Method::Minimax) continue;
            if (row.result) {
                const circuits::PolynomialPlan plan = cost(*row.result);
                std::printf(" %d / %d |", plan.depth, plan.ct_multiplications);
            } else {
                std::printf(" n/a |");
            }
        }
    }
    std::printf("\n");
    for (std::size_t m = 0; m < all.front().size(); ++m) {
        if (!all.front()[m].result)
            std::printf("\nn/a for %s: %s\n", method_name(all.front()[m].method).c_str(),
                        all.front()[m].failure.c_str());
    }
}

void run_approx(const ApproxArgs& a) {
    // Validate names up front so a typo gets its own clear message.
    try {
        (void)builtin_function(a.function);
        if (!a.compare) (void)parse_method(a.method);
    } catch (const InvalidArgument& e) {
        throw CommandFailure(ErrorCategory::usage, e.what());
    }
    if (!a.plot.empty()) {
        const std::string extension = std::filesystem::path(a.plot).extension().string();
        if (extension != ".png" && extension != ".svg")
            throw CommandFailure(ErrorCategory::usage, "--plot: the file must end in .png or .svg");
    }
    std::vector<double> samples;
    if (!a.samples_file.empty() && a.normal_samples_sigma > 0)
        throw CommandFailure(ErrorCategory::usage, "give --samples or --normal-samples, not both");
    if (!a.samples_file.empty()) samples = read_samples(a.samples_file);
    if (a.normal_samples_sigma > 0) samples = normal_samples(a.normal_samples_sigma);
    const TargetFunction f = builtin_function(a.function);

    if (!a.compare) {
        if (!a.degrees.empty())
            throw CommandFailure(ErrorCategory::usage, "--degrees goes with --compare");
        const Approximation result =
            approximate(make_request(a, parse_method(a.method), a.degree, samples));
        if (a.json_output) {
            std::cout << to_json(result).dump(2) << "\n";
        } else {
            print_approximation(result);
        }
        if (!a.plot.empty()) plot(a.plot, f, {result}, a.degree);
        return;
    }

    const std::vector<int> degrees =
        a.degrees.empty() ? std::vector<int>{a.degree} : parse_degrees(a.degrees);
    std::vector<std::vector<CompareRow>> all;
    for (int d : degrees) all.push_back(compare_methods(a, d, samples));
    if (a.json_output) {
        json out = json::array();
        for (const auto& rows : all) {
            for (const auto& row : rows) {
                if (row.result) {
                    out.push_back(to_json(*row.result));
                } else {
                    out.push_back({{"function", a.function},
                                   {"method", method_name(row.method)},
                                   {"error", row.failure}});
                }
            }
        }
        std::cout << out.dump(2) << "\n";
    } else if (a.markdown) {
        print_markdown(a, degrees, all, !samples.empty());
    } else {
        for (std::size_t i = 0; i < degrees.size(); ++i) {
            const Interval in = parse_interval(a.interval);
            std::printf("%s on [%g, %g], degree %d\n", a.function.c_str(), in.lo, in.hi,
                        degrees[i]);
            print_compare_table(all[i], !samples.empty());
            if (i + 1 < degrees.size()) std::printf("\n");
        }
    }
    if (!a.plot.empty()) {
        if (degrees.size() != 1)
            throw CommandFailure(ErrorCategory::usage,
                                 "--plot draws one degree: use --degree, not --degrees");
        std::vector<Approximation> curves;
        for (const auto& row : all.front()) {
            if (row.result) curves.push_back(*row.result);
        }
        plot(a.plot, f, curves, degrees.front());
    }
}

const CommandRegistrar approx_command(30, "approx", [](CLI::App& root) {
    auto args = std::make_shared<ApproxArgs>();
    CLI::App* cmd = root.add_subcommand(
        "approx",
        "Polynomial approximation of an activation: coefficients, errors, cost under encryption");
    cmd->add_option("function", args->function, "relu, sigmoid, tanh, silu, gelu or softplus")
        ->required();
    cmd->add_option(
           "-m,--method", args->method,
           "least-squares, taylor, chebyshev, modified-weight, derivative, minimax or empirical")
        ->capture_default_str();
    cmd->add_option("-d,--degree", args->degree, "Degree, 0..63")
        ->capture_default_str()
        ->check(CLI::Range(0, 63));
    cmd->add_option("--degrees", args->degrees, "With --compare: several degrees, e.g. 2,3,4,7,15");
    cmd->add_option("-i,--interval", args->interval,
                    "Interval A,B (write --interval=-8,8 for a negative A)")
        ->capture_default_str();
    add_json_flag(cmd, args->json_output);  // an array with --compare
    cmd->add_flag("--compare", args->compare, "Every method side by side");
    cmd->add_flag("--markdown", args->markdown,
                  "With --compare: markdown tables of max and L2 errors per degree");
    cmd->add_option("--plot", args->plot,
                    "Draw the polynomials and their errors with gnuplot (.png or .svg)");
    cmd->add_option("--samples", args->samples_file,
                    "Pre-activation values (text: numbers separated by spaces, commas or lines) "
                    "for empirical, and "
                    "errors on them");
    cmd->add_option("--normal-samples", args->normal_samples_sigma,
                    "Synthetic stand-in for --samples: 10000 values from N(0, SIGMA^2), fixed seed")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--center", args->center,
                    "taylor: expansion point (default: the interval's midpoint)");
    cmd->add_option("--steepness", args->steepness,
                    "derivative (relu): k of sigmoid(k x) (default: searched)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--points", args->points,
                    "least-squares: number of sample points (default max(1000, 20(d+1)))")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--uniform-mix", args->uniform_mix,
                    "empirical: share of uniform weight on the interval")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.999));
    // Errors reach main(), which maps their category to the exit status.
    cmd->callback([args] { run_approx(*args); });
});

}  // namespace
}  // namespace henn::cli
