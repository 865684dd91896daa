// `henn lr ...`: logistic regression trained on encrypted data (CKKS).
//   demo    client and server as two processes on loopback (gRPC): the client standardizes and
//           encrypts the training rows, the server trains, the client decrypts the model and
//           compares it with the float baseline and the identical-arithmetic reference
//   server  the training server alone (evaluation keys and ciphertexts only)
//   bench   one process, synthetic rows: seconds per iteration and memory at a given size
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "henn/data/data.hpp"
#include "henn/lr/encrypted.hpp"
#include "henn/lr/lr.hpp"
#include "henn/math/parallel.hpp"
#include "henn/service/lr_service.hpp"

namespace henn::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::uint64_t peak_memory_bytes() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

struct TrainFlags {
    int iterations = 4;
    std::string optimizer = "nesterov";
    std::string sigmoid = "poly3";
    double learning_rate = 0.2;
    double l2 = 0.0;
    double bound = 0;  // 0: from the data
    int refresh_every = 0;
    int log_n = 0;
    std::size_t radix = 2;
    std::uint64_t seed = 1;
    bool json = false;
};

void add_train_flags(CLI::App* cmd, TrainFlags& f) {
    cmd->add_option("--iterations", f.iterations, "Gradient iterations")
        ->capture_default_str()
        ->check(CLI::Range(1, 10000));
    cmd->add_option("--optimizer", f.optimizer, "nesterov or gd")
        ->capture_default_str()
        ->check(CLI::IsMember({"nesterov", "gd"}));
    cmd->add_option("--sigmoid", f.sigmoid,
                    "poly3 (the study's 0.5 + 0.197x - 0.004x^3), minimax:D or least-squares:D (D "
                    "= 3, 5, 7)")
        ->capture_default_str()
        ->check(CLI::IsMember({"poly3", "minimax:3", "minimax:5", "minimax:7", "least-squares:3",
                               "least-squares:5", "least-squares:7"}));
    cmd->add_option("--learning-rate", f.learning_rate, "alpha")->capture_default_str();
    cmd->add_option("--l2", f.l2, "lambda (L2 regularisation, the study's rule)")
        ->capture_default_str();
    cmd->add_option("--bound", f.bound, "Sigmoid interval [-B, B] (default: from the data)");
    cmd->add_option("--refresh-every", f.refresh_every,
                    "Client-aided mode: the client re-encrypts the weights every K iterations (0: "
                    "non-interactive)")
        ->capture_default_str();
    cmd->add_option("--log-n", f.log_n, "Ring degree 2^N (default: the smallest that fits)")
        ->check(CLI::Range(13, 16));
    cmd->add_option("--radix", f.radix, "Rotate-and-sum radix (2: fewest keys)")
        ->capture_default_str();
    add_seed_option(cmd, f.seed);
    add_json_flag(cmd, f.json);
}

lr::Hyperparameters hyper_of(const TrainFlags& f) {
    lr::Hyperparameters h;
    h.optimizer = lr::parse_optimizer(f.optimizer);
    h.learning_rate = f.learning_rate;
    h.l2 = f.l2;
    h.iterations = f.iterations;
    return h;
}

lr::TrainingConfig config_of(const TrainFlags& f, const lr::Problem& train, double bound) {
    lr::TrainingConfig c;
    c.rows = train.rows();
    c.features = train.features;
    c.hyper = hyper_of(f);
    c.sigmoid = f.sigmoid;
    c.sigmoid_bound = bound;
    c.refresh_every = f.refresh_every;
    c.chain.log_n = f.log_n;
    c.chain.radix = f.radix;
    return c;
}

lr::Problem problem_of(const data::Table& table) {
    return lr::problem_from_table(table);
}

// ---- the server process ----

struct Child {
    pid_t pid = -1;
    std::string address;
};

// Starts `henn lr server` with stdout on a pipe and reads "listening on HOST:PORT".
Child spawn_server() {
    int fds[2];
    if (::pipe(fds) != 0) throw CommandFailure(ErrorCategory::internal, "pipe() failed");
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    const pid_t pid = ::fork();
    if (pid < 0) throw CommandFailure(ErrorCategory::internal, "fork() failed");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the server ends with the demo, even if it is killed
        ::dup2(fds[1], STDOUT_FILENO);
        ::close(fds[0]);
        ::close(fds[1]);
        const char* argv[] = {self.c_str(), "lr", "server", "--listen", "127.0.0.1:0", nullptr};
        ::execv(self.c_str(), const_cast<char* const*>(argv));
        std::perror("execv");
        ::_exit(127);
    }
    ::close(fds[1]);
    std::string line;
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(fds[0]);
    const std::string marker = "listening on ";
    const auto at = line.find(marker);
    if (at == std::string::npos) {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, nullptr, 0);
        throw CommandFailure(ErrorCategory::internal,
                             "the training server did not start (see its error above)");
    }
    return {pid, line.substr(at + marker.size())};
}

void stop_server(Child& child) {
    if (child.pid <= 0) return;
    ::kill(child.pid, SIGTERM);
    ::waitpid(child.pid, nullptr, 0);
    child.pid = -1;
}

std::string percent(double x) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(2) << 100.0 * x << "%";
    return s.str();
}

void run_demo(const std::string& data_file, const TrainFlags& f) {
    const auto t_start = std::chrono::steady_clock::now();
    const lr::Split split =
        lr::split_and_standardize(problem_of(data::load_wdbc_table(data_file)), 0.8, f.seed);
    const lr::Hyperparameters hyper = hyper_of(f);
    const double bound = f.bound > 0 ? f.bound : lr::sigmoid_bound_from_data(split.train, hyper);
    const lr::TrainingConfig config = config_of(f, split.train, bound);
    const lr::TrainingPlan plan = config.plan();  // refuses a run the chain cannot hold

    // Baselines on the client's plaintext.
    const lr::Model float_model = lr::train_float(split.train, hyper);
    const lr::Model reference = lr::train_reference(split.train, hyper, plan.sigmoid);
    const lr::Metrics float_metrics = lr::evaluate(float_model, split.test);
    const lr::Metrics reference_metrics = lr::evaluate(reference, split.test);

    if (!f.json) {
        std::cout << "WDBC: " << split.train.rows() << " training rows, " << split.test.rows()
                  << " held out, " << split.train.features
                  << " features (standardized by the client)\n"
                  << "plan: " << plan.describe() << "\n";
    }
    Child server = spawn_server();
    lr::Model encrypted_model;
    service::LrTrainingResult result;
    double keygen_seconds = 0;
    try {
        if (!f.json)
            std::cout << "server (pid " << server.pid << ") on " << server.address << std::endl;
        const auto t0 = std::chrono::steady_clock::now();
        lr::Client client(plan);
        keygen_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        service::ChannelOptions channel;
        channel.address = server.address;
        service::LrTrainingClient remote(service::connect(channel));
        result = remote.train(client, config, split.train, [&](const lr::IterationReport& r) {
            std::cerr << (::isatty(STDERR_FILENO) ? "\r" : "") << "iteration " << r.iteration << "/"
                      << hyper.iterations << " [";
            for (int i = 0; i < hyper.iterations; ++i) std::cerr << (i < r.iteration ? '#' : '.');
            std::cerr << "] level " << r.level << ", " << std::fixed << std::setprecision(3)
                      << r.seconds << " s"
                      << (r.refreshed_before ? " (after a client refresh)" : "") << std::flush;
            if (r.iteration == hyper.iterations || !::isatty(STDERR_FILENO)) std::cerr << "\n";
        });
        encrypted_model.weights = client.decrypt_weights(result.model);
    } catch (...) {
        stop_server(server);
        throw;
    }
    stop_server(server);
    const lr::Metrics encrypted_metrics = lr::evaluate(encrypted_model, split.test);
    const double max_difference = lr::max_weight_difference(reference, encrypted_model);
    const double per_iteration = result.train_seconds / hyper.iterations;
    const double total =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

    if (f.json) {
        json j;
        j["accuracy_encrypted"] = encrypted_metrics.accuracy;
        j["accuracy_float"] = float_metrics.accuracy;
        j["accuracy_identical_arithmetic"] = reference_metrics.accuracy;
        j["auc_encrypted"] = encrypted_metrics.auc;
        j["auc_float"] = float_metrics.auc;
        j["auc_identical_arithmetic"] = reference_metrics.auc;
        j["max_coefficient_difference"] = max_difference;
        j["seconds_per_iteration"] = per_iteration;
        j["server_train_seconds"] = result.train_seconds;
        j["cpu_seconds_per_iteration"] = result.train_cpu_seconds / hyper.iterations;
        j["refresh_wait_seconds"] = result.refresh_wait_seconds;
        j["refreshes"] = result.refreshes;
        j["keygen_seconds"] = keygen_seconds;
        j["total_seconds"] = total;
        j["iterations"] = hyper.iterations;
        j["max_noninteractive_iterations"] = plan.max_noninteractive_iterations;
        j["mode"] = plan.mode == lr::Mode::non_interactive ? "non-interactive" : "client-aided";
        j["optimizer"] = lr::optimizer_name(hyper.optimizer);
        j["sigmoid"] = plan.sigmoid.name;
        j["sigmoid_bound"] = bound;
        j["bytes_up"] = result.bytes_up;
        j["bytes_down"] = result.bytes_down;
        j["client_peak_memory_bytes"] = peak_memory_bytes();
        j["server_peak_memory_bytes"] = result.server_peak_memory_bytes;
        j["log_n"] = plan.parameters.log_n;
        j["levels"] = plan.levels;
        j["security_bits"] = 128;
        j["train_rows"] = split.train.rows();
        j["test_rows"] = split.test.rows();
        j["weights_encrypted"] = encrypted_model.weights;
        j["weights_identical_arithmetic"] = reference.weights;
        std::cout << j.dump(2) << "\n";
        return;
    }
    std::cout << std::fixed << std::setprecision(4) << "held-out accuracy / AUC ("
              << split.test.rows() << " rows):\n"
              << "  encrypted training          " << percent(encrypted_metrics.accuracy) << "  AUC "
              << encrypted_metrics.auc << "\n"
              << "  identical arithmetic        " << percent(reference_metrics.accuracy) << "  AUC "
              << reference_metrics.auc << "\n"
              << "  float LR (true sigmoid)     " << percent(float_metrics.accuracy) << "  AUC "
              << float_metrics.auc << "\n"
              << "largest coefficient difference, encrypted vs identical arithmetic: "
              << std::scientific << std::setprecision(2) << max_difference << "\n"
              << std::fixed << std::setprecision(3) << "server: " << per_iteration
              << " s per iteration (" << hyper.iterations << " iterations, " << result.refreshes
              << " client refreshes; " << result.train_cpu_seconds / hyper.iterations
              << " s of CPU per iteration), peak memory "
              << result.server_peak_memory_bytes / 1048576 << " MiB\n"
              << "client: key generation " << keygen_seconds << " s, "
              << result.bytes_up / 1048576.0 << " MiB sent, " << result.bytes_down / 1048576.0
              << " MiB received, peak memory " << peak_memory_bytes() / 1048576
              << " MiB; whole demo " << total << " s\n";
}

void run_bench(std::size_t rows, std::size_t features, const TrainFlags& f) {
    const lr::Problem all = lr::synthetic_problem(rows + rows / 4, features, f.seed);
    const lr::Split split = lr::split_and_standardize(
        all, static_cast<double>(rows) / static_cast<double>(all.rows()), f.seed);
    const lr::Hyperparameters hyper = hyper_of(f);
    const double bound = f.bound > 0 ? f.bound : 8.0;
    const lr::SigmoidApproximation sigmoid = lr::make_sigmoid(f.sigmoid, bound);
    lr::ChainOptions chain;
    chain.log_n = f.log_n;
    chain.radix = f.radix;
    const lr::TrainingPlan plan =
        lr::plan_training(split.train.rows(), features, hyper, sigmoid,
                          f.refresh_every > 0 ? lr::Mode::client_aided : lr::Mode::non_interactive,
                          f.refresh_every, chain);
    if (!f.json) std::cout << "plan: " << plan.describe() << std::endl;
    const auto t0 = std::chrono::steady_clock::now();
    lr::Client client(plan);
    auto keys = std::make_shared<const ckks::EvaluationKeys>(client.evaluation_keys());
    auto rows_ct = client.encrypt_rows(split.train);
    const double setup_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    lr::EncryptedTrainer trainer(client.context(), keys, plan, std::move(rows_ct));
    lr::LocalClientRefresher refresher(client);
    std::vector<double> seconds, cpu;
    trainer.train(&refresher, [&](const lr::IterationReport& r) {
        seconds.push_back(r.seconds);
        cpu.push_back(r.cpu_seconds);
        if (!f.json)
            std::cerr << "iteration " << r.iteration << ": " << r.seconds << " s, level " << r.level
                      << "\n";
    });
    const lr::Model model{client.decrypt_weights(trainer.model())};
    const lr::Model reference = lr::train_reference(split.train, hyper, sigmoid);
    const double diff = lr::max_weight_difference(model, reference);
    // The first iteration from zero weights is one constant product: report the full ones apart.
    double full = 0, full_cpu = 0;
    for (std::size_t i = 1; i < seconds.size(); ++i) {
        full += seconds[i];
        full_cpu += cpu[i];
    }
    const double full_mean =
        seconds.size() > 1 ? full / static_cast<double>(seconds.size() - 1) : 0;
    const double full_cpu_mean =
        seconds.size() > 1 ? full_cpu / static_cast<double>(seconds.size() - 1) : 0;
    json j;
    j["rows"] = split.train.rows();
    j["features"] = features;
    j["ciphertexts"] = plan.packing.ciphertexts;
    j["log_n"] = plan.parameters.log_n;
    j["levels"] = plan.levels;
    j["iterations"] = hyper.iterations;
    j["seconds_per_full_iteration"] = full_mean;
    j["cpu_seconds_per_full_iteration"] = full_cpu_mean;
    j["seconds_first_iteration"] = seconds.empty() ? 0 : seconds[0];
    j["setup_seconds"] = setup_seconds;
    j["peak_memory_bytes"] = peak_memory_bytes();
    j["threads"] = math::thread_count();
    j["accuracy_encrypted"] = lr::evaluate(model, split.test).accuracy;
    j["accuracy_identical_arithmetic"] = lr::evaluate(reference, split.test).accuracy;
    j["max_coefficient_difference"] = diff;
    std::cout << j.dump(2) << "\n";
}

void setup(CLI::App& root) {
    // cmd_lr_roles.cpp adds keygen, encrypt, train, decrypt and predict to the same group.
    auto* lr_cmd =
        command_group(root, "lr", "Logistic regression trained on encrypted data (CKKS)");
    {
        struct Options {
            std::string csv;
            TrainFlags flags;
        };
        const auto o = std::make_shared<Options>();
        auto* cmd = lr_cmd->add_subcommand(
            "demo",
            "Client and server as two processes on loopback: train on encrypted WDBC rows, "
            "compare with float LR and the identical-arithmetic reference on held-out rows");
        add_csv_option(cmd, o->csv, "WDBC-format CSV (breast_cancer.csv)");
        add_train_flags(cmd, o->flags);
        cmd->callback([o] {
            if (o->csv.empty())
                throw CommandFailure(ErrorCategory::usage,
                                     "--csv FILE is required (the WDBC-format table)");
            run_demo(o->csv, o->flags);
        });
    }
    {
        struct Options {
            std::string listen = "127.0.0.1:0";
        };
        const auto o = std::make_shared<Options>();
        auto* cmd = lr_cmd->add_subcommand(
            "server", "The training server (evaluation keys and ciphertexts only)");
        cmd->add_option("--listen", o->listen, "host:port (port 0: any free port)")
            ->capture_default_str();
        cmd->callback([o] {
            service::LrTrainingService service;
            service::ServerOptions options;
            options.listen_address = o->listen;
            service::Server server(options, {&service});
            std::cout << "lr server listening on " << server.address() << std::endl;
            server.wait();
        });
    }
    {
        struct Options {
            std::size_t rows = 10000, features = 32;
            TrainFlags flags;
        };
        const auto o = std::make_shared<Options>();
        o->flags.iterations = 2;
        auto* cmd = lr_cmd->add_subcommand("bench",
                                           "Synthetic rows in one process: seconds per iteration, "
                                           "memory, agreement with the reference");
        cmd->add_option("--rows", o->rows, "Training rows")->capture_default_str();
        cmd->add_option("--features", o->features, "Features")->capture_default_str();
        add_train_flags(cmd, o->flags);
        cmd->callback([o] { run_bench(o->rows, o->features, o->flags); });
    }
}

const CommandRegistrar registrar(55, "lr", setup);

}  // namespace
}  // namespace henn::cli
