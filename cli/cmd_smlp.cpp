// `henn smlp ...`: the two-server secure MLP (Paillier). keygen, the two servers (s1, s2), the
// owner's train and classify, and demo, which runs all three parties as separate processes.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "henn/data/data.hpp"
#include "henn/paillier/serialization.hpp"
#include "henn/service/smlp_service.hpp"
#include "henn/smlp/owner.hpp"
#include "henn/smlp/plain.hpp"
#include "temporary_directory.hpp"

namespace henn::cli {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct KeyOptions {
    std::string secret_key_file;
    bool allow_test_keys = false;
};

struct TlsFlags {
    std::string cert, key, ca;  // own certificate and key (servers); CA of the peer (clients)
};

struct OwnerFlags {
    std::string cloud;
    std::string csv;  // the WDBC-format table
    std::size_t hidden = 16;
    std::size_t epochs = 1;
    std::size_t batch = 8;
    double learning_rate = 0.1;
    std::uint64_t seed = 1;
    std::size_t train_rows = 0;  // 0: 80% of the data
    std::size_t test_rows = 0;   // 0: all the rest
    std::string model_out;
    bool compare = true;
    bool json = false;  // the report as one JSON document on stdout; progress lines go to stderr
};

struct PreparedData {
    smlp::Dataset train, test;
};

// Shuffles with the seed, splits, standardizes with the training rows' statistics.
PreparedData prepare(const OwnerFlags& flags) {
    if (flags.csv.empty())
        throw CommandFailure(ErrorCategory::usage,
                             "--csv FILE is required (the WDBC-format table)");
    const smlp::Dataset all =
        smlp::shuffle_rows(smlp::from_table(data::load_wdbc_table(flags.csv)), flags.seed);
    std::size_t train_rows = flags.train_rows ? flags.train_rows : all.rows() * 4 / 5;
    if (train_rows >= all.rows())
        throw CommandFailure(ErrorCategory::usage,
                             "--train-rows must leave rows for testing (data has " +
                                 std::to_string(all.rows()) + ")");
    auto [train, test] = smlp::split(all, train_rows);
    smlp::standardize(train, test);
    if (flags.test_rows) test = smlp::head(test, flags.test_rows);
    return {train, test};
}

paillier::SecretKey load_secret(const KeyOptions& keys) {
    return paillier::load_secret_key(paillier::read_file(keys.secret_key_file),
                                     {.allow_test_only_sizes = keys.allow_test_keys});
}

service::ChannelOptions channel(const std::string& address, const std::string& ca) {
    service::ChannelOptions options;
    options.address = address;
    if (!ca.empty()) options.tls = service::ChannelTls{ca, "", "", ""};
    return options;
}

service::ServerOptions server_options(const std::string& listen, const TlsFlags& tls) {
    service::ServerOptions options;
    options.listen_address = listen;
    if (!tls.cert.empty() || !tls.key.empty()) {
        if (tls.cert.empty() || tls.key.empty())
            throw CommandFailure(ErrorCategory::usage, "TLS needs both --tls-cert and --tls-key");
        options.tls = service::ServerTls{tls.cert, tls.key, ""};
    }
    return options;
}

std::string megabytes(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
    return text;
}

std::string percent(double fraction) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f%%", 100 * fraction);
    return text;
}

// The owner's side of a session: set up, upload, train, fetch and decrypt the model, classify
// the held-out rows under encryption; with `compare`, also the plaintext references.
void run_owner(const OwnerFlags& flags, const KeyOptions& keys, const std::string& cloud_ca) {
    std::ostream& out = flags.json ? std::cerr : std::cout;
    out << std::unitbuf;  // progress lines appear as they happen, also in a log file
    nlohmann::json report;
    const PreparedData data = prepare(flags);
    const smlp::FixedPointConfig config;
    const smlp::Owner owner(load_secret(keys), config);
    const auto& pk = owner.public_key();
    report["key_bits"] = pk.modulus_bits();
    report["public_key_bytes"] = paillier::serialize(pk).size();
    report["ciphertext_bytes"] = pk.ciphertext_bytes();
    out << "key: " << pk.modulus_bits() << "-bit modulus; public key "
        << paillier::serialize(pk).size() << " bytes, ciphertext " << pk.ciphertext_bytes()
        << " bytes\n";
    const smlp::ModelShape shape{{data.train.features, flags.hidden, data.train.outputs}};
    const smlp::TrainSchedule schedule{flags.epochs, flags.batch, flags.learning_rate, flags.seed};
    const smlp::PlainModel start =
        smlp::quantize(smlp::initial_model(shape, flags.seed), config.scale_bits);

    service::SmlpCloudClient client(channel(flags.cloud, cloud_ca));
    auto t0 = std::chrono::steady_clock::now();
    client.setup(pk, config, owner.encrypt(start));
    const std::size_t rows = client.upload(pk, owner.encrypt(data.train));
    const double upload_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report["train_rows"] = rows;
    report["test_rows"] = data.test.rows();
    report["features"] = data.train.features;
    report["shape"] = shape.widths;
    report["seconds_setup_and_upload"] = upload_seconds;
    out << "uploaded " << rows << " encrypted rows of " << data.train.features
        << " features and the encrypted " << shape.widths[0] << "-" << flags.hidden << "-"
        << shape.outputs() << " model in " << upload_seconds << " s\n";

    const smlp::TrainingReport training = client.train(schedule, std::chrono::hours(72));
    report["epochs"] = nlohmann::json::array();
    for (const auto& e : training.epochs) {
        const double samples = static_cast<double>(e.samples);
        report["epochs"].push_back(
            {{"epoch", e.epoch + 1},
             {"samples", e.samples},
             {"seconds", e.seconds},
             {"s1_cpu_seconds", e.s1_cpu_seconds},
             {"s2_cpu_seconds",
              e.s2_cpu_seconds >= 0 ? nlohmann::json(e.s2_cpu_seconds) : nlohmann::json()},
             {"s1_s2_bytes", e.traffic.total_bytes()},
             {"s1_to_s2_bytes", e.traffic.bytes_sent},
             {"rounds", e.traffic.rounds}});
        out << "epoch " << e.epoch + 1 << ": " << e.samples << " samples in " << e.seconds
            << " s wall (" << e.seconds / samples << " s/sample); CPU S1 " << e.s1_cpu_seconds
            << " s";
        if (e.s2_cpu_seconds >= 0)
            out << " + S2 " << e.s2_cpu_seconds
                << " s = " << (e.s1_cpu_seconds + e.s2_cpu_seconds) / samples << " s/sample";
        out << "; S1<->S2 " << megabytes(e.traffic.total_bytes()) << " ("
            << megabytes(e.traffic.bytes_sent) << " to S2) in " << e.traffic.rounds << " rounds\n";
    }
    const smlp::PlainModel trained = owner.decrypt(client.model(pk));

    t0 = std::chrono::steady_clock::now();
    const auto scores = owner.decrypt_scores(
        client.classify(pk, owner.encrypt_features(data.test), data.test.rows()));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report["seconds_classify"] = seconds;
    report["accuracy_encrypted"] = smlp::accuracy(scores, data.test);
    out << "encrypted classification of " << data.test.rows() << " rows: " << seconds << " s ("
        << seconds / static_cast<double>(data.test.rows()) << " s/row)\n";
    out << "test accuracy, encrypted training and classification: "
        << percent(smlp::accuracy(scores, data.test)) << "\n";

    if (flags.compare) {
        const smlp::PlainModel fixed = smlp::train_fixed_point(start, data.train, schedule, config);
        const smlp::PlainModel real = smlp::train_float(start, data.train, schedule);
        const double ulp = std::ldexp(1.0, -static_cast<int>(config.scale_bits));
        const double difference = smlp::max_abs_difference(trained, fixed);
        double total = 0;
        std::size_t count = 0, within_8_units = 0;
        for (std::size_t l = 0; l < trained.shape.layers(); ++l)
            for (const auto* pair : {&trained.weights, &trained.biases}) {
                const auto& mine = (*pair)[l];
                const auto& theirs = pair == &trained.weights ? fixed.weights[l] : fixed.biases[l];
                for (std::size_t i = 0; i < mine.size(); ++i) {
                    const double d = std::abs(mine[i] - theirs[i]);
                    total += d;
                    within_8_units += d <= 8 * ulp;
                    ++count;
                }
            }
        out << "encrypted vs plaintext fixed-point model, over " << count
            << " parameters: max |difference| " << difference << " (" << difference / ulp
            << " units of 2^-" << config.scale_bits << "), mean "
            << total / static_cast<double>(count) << ", " << within_8_units << " within 8 units\n";
        const auto fixed_scores = smlp::predict(fixed, data.test);
        double worst_score = 0;
        for (std::size_t i = 0; i < scores.size(); ++i)
            worst_score = std::max(worst_score, std::abs(scores[i] - fixed_scores[i]));
        const double fixed_accuracy = smlp::accuracy(smlp::predict(fixed, data.test), data.test);
        const double float_accuracy = smlp::accuracy(smlp::predict(real, data.test), data.test);
        report["parameters"] = count;
        report["max_difference_fixed_point"] = difference;
        report["max_difference_units"] = difference / ulp;
        report["mean_difference_fixed_point"] = total / static_cast<double>(count);
        report["within_8_units"] = within_8_units;
        report["max_score_difference"] = worst_score;
        report["accuracy_fixed_point"] = fixed_accuracy;
        report["accuracy_float"] = float_accuracy;
        out << "max |encrypted score - fixed-point model's score| on the test rows: " << worst_score
            << "\n";
        out << "test accuracy, plaintext fixed-point training: " << percent(fixed_accuracy) << "\n";
        out << "test accuracy, float training: " << percent(float_accuracy) << "\n";
    }
    if (!flags.model_out.empty()) {
        const auto bytes = [&] {
            std::string text;
            for (std::size_t l = 0; l < trained.shape.layers(); ++l) {
                text += "layer " + std::to_string(l) + " weights";
                for (double w : trained.weights[l]) text += " " + std::to_string(w);
                text += "\nlayer " + std::to_string(l) + " biases";
                for (double b : trained.biases[l]) text += " " + std::to_string(b);
                text += "\n";
            }
            return std::vector<std::uint8_t>(text.begin(), text.end());
        }();
        paillier::write_file(flags.model_out, bytes);
        report["model_out"] = flags.model_out;
        out << "decrypted model written to " << flags.model_out << "\n";
    }
    if (flags.json) std::cout << report.dump(2) << "\n";
}

void add_owner_flags(CLI::App* cmd, OwnerFlags& flags, KeyOptions& keys, std::string& cloud_ca) {
    cmd->add_option("--cloud", flags.cloud, "S1's address, host:port")->required();
    cmd->add_option("--secret-key", keys.secret_key_file, "The owner's secret key")
        ->required()
        ->check(CLI::ExistingFile);
    add_csv_option(cmd, flags.csv, "WDBC-format CSV (required)");
    cmd->add_option("--hidden", flags.hidden, "Hidden-layer width")->capture_default_str();
    cmd->add_option("--epochs", flags.epochs, "Epochs")->capture_default_str();
    cmd->add_option("--batch-size", flags.batch, "Mini-batch size")->capture_default_str();
    add_deprecated_option(cmd, "--batch", "--batch-size", flags.batch);
    cmd->add_option("--lr", flags.learning_rate, "Learning rate")->capture_default_str();
    add_seed_option(cmd, flags.seed);
    cmd->add_option("--train-rows", flags.train_rows, "Training rows (default 80%)");
    cmd->add_option("--test-rows", flags.test_rows, "Held-out rows to classify (default all)");
    cmd->add_option("--model-out", flags.model_out, "Write the decrypted model (text)");
    cmd->add_option("--cloud-ca", cloud_ca, "CA certificate (PEM) to reach S1 over TLS");
    cmd->add_flag("--allow-test-keys", keys.allow_test_keys, "Accept 1024-bit keys (tests only)");
    add_json_flag(cmd, flags.json);
}

// ---- demo: three processes on loopback ----

struct Child {
    pid_t pid = -1;
    std::string address;
};

// Starts `henn smlp ...` with stdout on a pipe and reads "listening on HOST:PORT".
Child spawn_party(const std::vector<std::string>& arguments, const char* name) {
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) throw CommandFailure(ErrorCategory::io, "pipe() failed");
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    const pid_t pid = ::fork();
    if (pid < 0) throw CommandFailure(ErrorCategory::io, "fork() failed");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the parties end with the demo, even if it is killed
        ::dup2(pipe_fds[1], STDOUT_FILENO);
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        std::vector<char*> argv{const_cast<char*>(self.c_str())};
        for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(self.c_str(), argv.data());
        std::perror("execv");
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
    std::string line;
    char c;
    while (::read(pipe_fds[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(pipe_fds[0]);
    const std::string marker = "listening on ";
    const auto at = line.find(marker);
    if (at == std::string::npos) {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, nullptr, 0);
        throw CommandFailure(ErrorCategory::protocol,
                             std::string(name) + " did not start (see its error above)");
    }
    return {pid, line.substr(at + marker.size())};
}

void stop_party(Child& child) {
    if (child.pid <= 0) return;
    ::kill(child.pid, SIGTERM);
    ::waitpid(child.pid, nullptr, 0);
    child.pid = -1;
}

void serve_forever(service::Server& server, const char* role) {
    std::cout << role << " listening on " << server.address() << std::endl;
    server.wait();
}

void setup(CLI::App& root) {
    auto* smlp_cmd = root.add_subcommand(
        "smlp", "Secure MLP training and classification under Paillier with two servers");
    smlp_cmd->require_subcommand(1);

    // keygen
    {
        struct Options {
            std::string out = ".";
            unsigned bits = paillier::kDefaultModulusBits;
            bool test_only = false, json = false;
        };
        const auto o = std::make_shared<Options>();
        auto& out = o->out;
        auto& bits = o->bits;
        auto& test_only = o->test_only;
        auto* cmd = smlp_cmd->add_subcommand("keygen", "Generate the owner's Paillier key pair");
        cmd->add_option("--out", out, "Directory for public.key and secret.key")
            ->capture_default_str();
        cmd->add_option("--bits", bits, "Modulus size: 2048 or 3072")->capture_default_str();
        cmd->add_flag("--allow-test-keys", test_only, "Allow 1024-bit keys (insecure, tests only)");
        add_deprecated_flag(cmd, "--test-only-1024", "--allow-test-keys", test_only);
        add_json_flag(cmd, o->json);
        cmd->callback([o] {
            auto& out = o->out;
            auto& bits = o->bits;
            auto& test_only = o->test_only;
            fs::create_directories(out);
            const auto t0 = std::chrono::steady_clock::now();
            const auto keys = paillier::generate_keypair(
                {.modulus_bits = bits, .allow_test_only_sizes = test_only});
            const double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const auto pub = paillier::serialize(keys.public_key);
            auto sec = paillier::serialize(keys.secret_key);
            paillier::write_file((fs::path(out) / "public.key").string(), pub);
            paillier::write_file((fs::path(out) / "secret.key").string(), sec, true);
            std::fill(sec.begin(), sec.end(), 0);
            if (o->json) {
                std::cout << nlohmann::json{{"bits", bits},
                                            {"seconds", seconds},
                                            {"public_key", (fs::path(out) / "public.key").string()},
                                            {"public_key_bytes", pub.size()},
                                            {"secret_key", (fs::path(out) / "secret.key").string()}}
                                 .dump(2)
                          << "\n";
                return;
            }
            std::cout << bits << "-bit Paillier key pair in " << seconds << " s: " << out
                      << "/public.key (" << pub.size() << " bytes), " << out << "/secret.key\n";
        });
    }

    // s2
    {
        struct Options {
            std::string listen = "127.0.0.1:0";
            KeyOptions keys;
            TlsFlags tls;
        };
        const auto o = std::make_shared<Options>();
        auto& listen = o->listen;
        auto& keys = o->keys;
        auto& tls = o->tls;
        auto* cmd =
            smlp_cmd->add_subcommand("s2", "Run S2, the helper server that holds the secret key");
        cmd->add_option("--listen", listen, "host:port (port 0: any free port)")
            ->capture_default_str();
        cmd->add_option("--secret-key", keys.secret_key_file, "The owner's secret key")
            ->required()
            ->check(CLI::ExistingFile);
        cmd->add_option("--tls-cert", tls.cert, "Server certificate (PEM) to serve TLS");
        cmd->add_option("--tls-key", tls.key, "Server private key (PEM)");
        cmd->add_flag("--allow-test-keys", keys.allow_test_keys,
                      "Accept 1024-bit keys (tests only)");
        cmd->callback([o] {
            auto& listen = o->listen;
            auto& keys = o->keys;
            auto& tls = o->tls;
            const smlp::Helper helper(load_secret(keys));
            service::SmlpHelperService service(helper,
                                               {.allow_test_only_sizes = keys.allow_test_keys});
            service::Server server(server_options(listen, tls), {&service});
            serve_forever(server, "S2");
        });
    }

    // s1
    {
        struct Options {
            std::string listen = "127.0.0.1:0";
            std::string helper_address;
            std::string helper_ca;
            TlsFlags tls;
            bool allow_test_keys = false;
        };
        const auto o = std::make_shared<Options>();
        auto& listen = o->listen;
        auto& helper_address = o->helper_address;
        auto& helper_ca = o->helper_ca;
        auto& tls = o->tls;
        auto& allow_test_keys = o->allow_test_keys;
        auto* cmd = smlp_cmd->add_subcommand(
            "s1", "Run S1, the cloud server that trains on encrypted data");
        cmd->add_option("--listen", listen, "host:port (port 0: any free port)")
            ->capture_default_str();
        cmd->add_option("--helper", helper_address, "S2's address, host:port")->required();
        cmd->add_option("--helper-ca", helper_ca, "CA certificate (PEM) to reach S2 over TLS");
        cmd->add_option("--tls-cert", tls.cert, "Server certificate (PEM) to serve TLS");
        cmd->add_option("--tls-key", tls.key, "Server private key (PEM)");
        cmd->add_flag("--allow-test-keys", allow_test_keys, "Accept 1024-bit keys (tests only)");
        cmd->callback([o] {
            auto& listen = o->listen;
            auto& helper_address = o->helper_address;
            auto& helper_ca = o->helper_ca;
            auto& tls = o->tls;
            auto& allow_test_keys = o->allow_test_keys;
            service::GrpcHelperLink link(channel(helper_address, helper_ca),
                                         {.allow_test_only_sizes = allow_test_keys});
            service::SmlpCloudService service(link, {.allow_test_only_sizes = allow_test_keys});
            service::Server server(server_options(listen, tls), {&service});
            serve_forever(server, "S1");
        });
    }

    // train and classify (the owner)
    {
        struct Options {
            OwnerFlags flags;
            KeyOptions keys;
            std::string cloud_ca;
        };
        const auto o = std::make_shared<Options>();
        auto& flags = o->flags;
        auto& keys = o->keys;
        auto& cloud_ca = o->cloud_ca;
        auto* cmd = smlp_cmd->add_subcommand(
            "train",
            "As the owner: encrypt and upload the data, train on S1, decrypt the model, "
            "classify the held-out rows under encryption");
        add_owner_flags(cmd, flags, keys, cloud_ca);
        cmd->add_flag("!--no-compare", flags.compare, "Skip the plaintext reference trainings");
        cmd->callback([o] { run_owner(o->flags, o->keys, o->cloud_ca); });
    }
    {
        struct Options {
            OwnerFlags flags;
            KeyOptions keys;
            std::string cloud_ca;
            bool print_scores = false;
        };
        const auto o = std::make_shared<Options>();
        auto& flags = o->flags;
        auto& keys = o->keys;
        auto& cloud_ca = o->cloud_ca;
        auto* cmd = smlp_cmd->add_subcommand(
            "classify", "As the owner: classify held-out rows with the model kept on S1");
        cmd->add_option("--cloud", flags.cloud, "S1's address, host:port")->required();
        cmd->add_option("--secret-key", keys.secret_key_file, "The owner's secret key")
            ->required()
            ->check(CLI::ExistingFile);
        add_csv_option(cmd, flags.csv, "WDBC-format CSV (required)");
        add_seed_option(cmd, flags.seed);  // the training run's, for the same split
        cmd->add_option("--train-rows", flags.train_rows, "As used for training");
        cmd->add_option("--test-rows", flags.test_rows, "Held-out rows to classify (default all)");
        cmd->add_option("--cloud-ca", cloud_ca, "CA certificate (PEM) to reach S1 over TLS");
        cmd->add_flag("--allow-test-keys", keys.allow_test_keys,
                      "Accept 1024-bit keys (tests only)");
        cmd->add_flag("--scores", o->print_scores, "Print every decrypted score");
        add_json_flag(cmd, flags.json);
        cmd->callback([o] {
            auto& flags = o->flags;
            auto& keys = o->keys;
            auto& cloud_ca = o->cloud_ca;
            auto& print_scores = o->print_scores;
            const PreparedData data = prepare(flags);
            const smlp::Owner owner(load_secret(keys), smlp::FixedPointConfig{});
            service::SmlpCloudClient client(channel(flags.cloud, cloud_ca));
            const auto scores = owner.decrypt_scores(client.classify(
                owner.public_key(), owner.encrypt_features(data.test), data.test.rows()));
            if (flags.json) {
                nlohmann::json j{{"test_rows", data.test.rows()},
                                 {"accuracy_encrypted", smlp::accuracy(scores, data.test)}};
                if (print_scores) j["scores"] = scores;
                std::cout << j.dump(2) << "\n";
                return;
            }
            if (print_scores)
                for (std::size_t i = 0; i < scores.size(); ++i)
                    std::cout << "row " << i << ": score " << scores[i] << ", label "
                              << data.test.y[i] << "\n";
            std::cout << "test accuracy (" << data.test.rows()
                      << " rows, encrypted classification): "
                      << percent(smlp::accuracy(scores, data.test)) << "\n";
        });
    }

    // demo
    {
        struct Options {
            OwnerFlags flags;
            unsigned bits = paillier::kDefaultModulusBits;
            bool test_only = false;
        };
        const auto o = std::make_shared<Options>();
        auto& flags = o->flags;
        auto& bits = o->bits;
        auto& test_only = o->test_only;
        auto* cmd = smlp_cmd->add_subcommand(
            "demo",
            "Start S2, S1 and the owner as three processes on loopback, train on the data "
            "under encryption, classify the held-out part and print its accuracy");
        add_csv_option(cmd, flags.csv, "WDBC-format CSV (required)");
        cmd->add_option("--epochs", flags.epochs, "Epochs")->capture_default_str();
        cmd->add_option("--hidden", flags.hidden, "Hidden-layer width")->capture_default_str();
        cmd->add_option("--batch-size", flags.batch, "Mini-batch size")->capture_default_str();
        add_deprecated_option(cmd, "--batch", "--batch-size", flags.batch);
        cmd->add_option("--lr", flags.learning_rate, "Learning rate")->capture_default_str();
        add_seed_option(cmd, flags.seed);
        cmd->add_option("--train-rows", flags.train_rows, "Training rows (default 80%)");
        cmd->add_option("--test-rows", flags.test_rows, "Held-out rows to classify (default all)");
        cmd->add_option("--bits", bits, "Modulus size: 2048 or 3072")->capture_default_str();
        cmd->add_flag("--allow-test-keys", test_only, "Use a 1024-bit key (insecure, quick look)");
        add_deprecated_flag(cmd, "--test-only-1024", "--allow-test-keys", test_only);
        cmd->add_flag("!--no-compare", flags.compare, "Skip the plaintext reference trainings");
        add_json_flag(cmd, flags.json);
        cmd->callback([o] {
            auto& flags = o->flags;
            auto& bits = o->bits;
            auto& test_only = o->test_only;
            if (flags.csv.empty())
                throw CommandFailure(ErrorCategory::usage,
                                     "--csv FILE is required (the WDBC-format table)");
            // Holds the owner's secret key for S2; removed on every exit, including SIGINT/SIGTERM.
            const TemporaryDirectory temporary("henn-smlp-demo");
            const fs::path& dir = temporary.path();
            const auto keys = paillier::generate_keypair(
                {.modulus_bits = test_only ? 1024u : bits, .allow_test_only_sizes = test_only});
            const std::string secret_file = (dir / "secret.key").string();
            paillier::write_file(secret_file, paillier::serialize(keys.secret_key), true);
            std::vector<std::string> test_flag;
            if (test_only) test_flag.push_back("--allow-test-keys");
            Child s2, s1;
            try {
                std::vector<std::string> s2_args{"smlp",        "s2",           "--listen",
                                                 "127.0.0.1:0", "--secret-key", secret_file};
                s2_args.insert(s2_args.end(), test_flag.begin(), test_flag.end());
                s2 = spawn_party(s2_args, "S2");
                std::ostream& out = flags.json ? std::cerr : std::cout;
                out << "S2 (pid " << s2.pid << ") on " << s2.address << "\n";
                std::vector<std::string> s1_args{"smlp",        "s1",       "--listen",
                                                 "127.0.0.1:0", "--helper", s2.address};
                s1_args.insert(s1_args.end(), test_flag.begin(), test_flag.end());
                s1 = spawn_party(s1_args, "S1");
                out << "S1 (pid " << s1.pid << ") on " << s1.address << std::endl;
                OwnerFlags owner_flags = flags;
                owner_flags.cloud = s1.address;
                run_owner(owner_flags, {secret_file, test_only}, "");
            } catch (...) {
                stop_party(s1);
                stop_party(s2);
                throw;
            }
            stop_party(s1);
            stop_party(s2);
        });
    }
}

const CommandRegistrar registrar(50, "smlp", setup);

}  // namespace
}  // namespace henn::cli
