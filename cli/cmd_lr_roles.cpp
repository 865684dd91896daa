// `henn lr keygen | encrypt | train | decrypt | predict`: logistic regression on encrypted data
// with the client and the server as separate roles that exchange files (docs/lr.md, "Roles").
//   keygen   client: fixes the plan from its table (or from --rows/--features), writes the public
//            plan, evaluation keys and public key, and the secret key and its split/standardizer
//            (mode 0600, never read by the server)
//   encrypt  client: standardizes, packs and encrypts rows to train on (or to score)
//   train    server: plan, evaluation keys and encrypted rows only; writes the encrypted model
//   decrypt  client: the encrypted model into a plain model (JSON), or encrypted scores into
//            probabilities
//   predict  a plain model on plain rows; or, on the server, encrypted rows scored by an encrypted
//            or a plain model (the client decrypts the scores)
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/serialization.hpp"
#include "henn/data/data.hpp"
#include "henn/files.hpp"
#include "henn/lr/encrypted.hpp"
#include "henn/lr/files.hpp"
#include "henn/lr/lr.hpp"
#include "henn/lr/scoring.hpp"
#include "henn/math/parallel.hpp"

namespace henn::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

std::uint64_t peak_memory_bytes() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

// Untrusted input files: at most 16 GiB, read whole.
std::vector<std::uint8_t> read_bytes(const fs::path& path, const std::string& what) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw CommandFailure(ErrorCategory::io, what + " " + path.string() + " does not exist");
    const auto size = fs::file_size(path, ec);
    if (ec || size > (std::uintmax_t{16} << 30))
        throw CommandFailure(ErrorCategory::io, "cannot read " + what + " " + path.string());
    std::ifstream in(path, std::ios::binary);
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    if (!in || !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<long>(size)))
        throw CommandFailure(ErrorCategory::io, "cannot read " + what + " " + path.string());
    return bytes;
}

std::string read_text(const fs::path& path, const std::string& what) {
    const auto bytes = read_bytes(path, what);
    return std::string(bytes.begin(), bytes.end());
}

// Secret bytes are wiped as soon as they are no longer needed.
struct WipedBytes {
    std::vector<std::uint8_t> bytes;
    ~WipedBytes() {
        if (!bytes.empty()) ::explicit_bzero(bytes.data(), bytes.size());
    }
};

void write_public(const fs::path& path, std::span<const std::uint8_t> bytes) {
    write_file_atomically(path, bytes, FileAccess::shared);
}
void write_private(const fs::path& path, std::span<const std::uint8_t> bytes, bool overwrite) {
    write_file_atomically(path, bytes, FileAccess::owner_only, overwrite);
}
std::span<const std::uint8_t> as_bytes(const std::string& text) {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// ---- key files: a directory with the default names, or each file named ----

struct KeyFiles {
    std::string dir, plan, keys, public_key, key, client;
    // The path of one file: its own flag, else DIR/default_name; `required` files without either
    // are a usage error naming both flags.
    fs::path path(const std::string& own, const char* flag, const char* default_name,
                  bool required = true) const {
        if (!own.empty()) return own;
        if (!dir.empty()) return fs::path(dir) / default_name;
        if (required)
            throw CommandFailure(ErrorCategory::usage,
                                 std::string("give --key-dir DIR or ") + flag + " FILE");
        return {};
    }
    fs::path plan_path() const { return path(plan, "--plan", "plan.lr"); }
    fs::path keys_path() const { return path(keys, "--keys", "evaluation.keys"); }
    fs::path public_key_path() const { return path(public_key, "--public-key", "public.key"); }
    fs::path key_path() const { return path(key, "--key", "secret.key"); }
    fs::path client_path() const { return path(client, "--client", "client.json", false); }
};

void add_key_dir_option(CLI::App* cmd, KeyFiles& k, const std::string& help) {
    cmd->add_option("--key-dir", k.dir, help);
}
void add_plan_option(CLI::App* cmd, KeyFiles& k) {
    cmd->add_option("--plan", k.plan, "plan.lr from henn lr keygen (default: KEY_DIR/plan.lr)");
}
void add_eval_keys_option(CLI::App* cmd, KeyFiles& k) {
    cmd->add_option("--keys", k.keys,
                    "evaluation.keys from henn lr keygen (default: KEY_DIR/evaluation.keys)");
}
void add_secret_key_option(CLI::App* cmd, KeyFiles& k) {
    cmd->add_option("--key", k.key, "secret.key from henn lr keygen (default: KEY_DIR/secret.key)");
}
void add_client_option(CLI::App* cmd, KeyFiles& k) {
    cmd->add_option("--client", k.client,
                    "client.json from henn lr keygen or encrypt: the split and standardizer "
                    "(default: KEY_DIR/client.json)");
}

lr::PlanFile load_plan_file(const KeyFiles& k) {
    return lr::load_plan(read_bytes(k.plan_path(), "plan"));
}

lr::Client load_client(const KeyFiles& k, const lr::PlanFile& plan) {
    WipedBytes secret{read_bytes(k.key_path(), "secret key")};
    return lr::Client(plan.plan, plan.context, lr::load_secret_key(plan, secret.bytes));
}

std::optional<lr::ClientState> load_client_state(const KeyFiles& k) {
    const fs::path p = k.client_path();
    if (p.empty() || (!fs::exists(p) && k.client.empty())) return std::nullopt;
    return lr::load_client_state(read_text(p, "client state"));
}

lr::Problem load_table(const std::string& csv) {
    return lr::problem_from_table(data::load_csv_table(csv));
}

// Which rows of the table: the training part, the held-out part, or all (standardized).
lr::Problem rows_of(const lr::ClientState& state, const lr::Problem& table,
                    const std::string& split) {
    lr::Split s = state.prepare(table);
    if (split == "train") return s.train;
    if (split == "test") {
        if (s.test.rows() == 0)
            throw CommandFailure(ErrorCategory::usage,
                                 "no held-out rows (the client's train fraction is 1): use "
                                 "--split train or all");
        return s.test;
    }
    lr::Problem all = table;
    state.standardizer.apply(all.x, state.clip);
    return all;
}

void add_split_option(CLI::App* cmd, std::string& split, const std::string& help) {
    cmd->add_option("--split", split, help)->check(CLI::IsMember({"train", "test", "all"}));
}

std::string percent(double x) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(2) << 100.0 * x << "%";
    return s.str();
}

// ---- keygen ----

struct KeygenOptions {
    std::string csv, out;
    std::size_t rows = 0, features = 0;
    int iterations = 4;
    std::string optimizer = "nesterov", sigmoid = "poly3";
    double learning_rate = 0.2, l2 = 0, bound = 0, train_fraction = 0.8;
    int log_n = 0, scoring_levels = lr::kScoringLevels;
    std::size_t radix = 2;
    std::uint64_t seed = 1;
    bool force = false, json = false;
    KeyFiles files;
};

void run_keygen(const KeygenOptions& o) {
    const auto t0 = Clock::now();
    if (o.out.empty() && (o.files.plan.empty() || o.files.keys.empty() ||
                          o.files.public_key.empty() || o.files.key.empty()))
        throw CommandFailure(ErrorCategory::usage,
                             "give --out DIR, or --plan, --keys, --public-key and --key FILE");
    KeyFiles files = o.files;
    files.dir = o.out;
    if (!o.force && fs::exists(files.key_path()))
        throw CommandFailure(ErrorCategory::usage,
                             files.key_path().string() + " exists; pass --force to replace it");
    lr::TrainingConfig config;
    config.hyper.optimizer = lr::parse_optimizer(o.optimizer);
    config.hyper.learning_rate = o.learning_rate;
    config.hyper.l2 = o.l2;
    config.hyper.iterations = o.iterations;
    config.sigmoid = o.sigmoid;
    config.chain.log_n = o.log_n;
    config.chain.radix = o.radix;
    config.chain.scoring_levels = o.scoring_levels;
    std::optional<lr::ClientState> state;
    if (!o.csv.empty()) {
        if (o.rows || o.features)
            throw CommandFailure(ErrorCategory::usage,
                                 "--rows and --features come from the table when --csv is given");
        const lr::Problem table = load_table(o.csv);
        state = lr::ClientState::fit(table, o.train_fraction, o.seed);
        const lr::Split split = state->prepare(table);
        config.rows = split.train.rows();
        config.features = table.features;
        config.sigmoid_bound =
            o.bound > 0 ? o.bound : lr::sigmoid_bound_from_data(split.train, config.hyper);
    } else {
        if (!o.rows || !o.features)
            throw CommandFailure(ErrorCategory::usage,
                                 "give --csv FILE, or --rows N and --features F");
        config.rows = o.rows;
        config.features = o.features;
        config.sigmoid_bound = o.bound > 0 ? o.bound : 8.0;
    }
    const lr::TrainingPlan plan = config.plan();  // refuses a run the chain cannot hold (3)
    lr::Client client(plan);
    const ckks::Context& context = *client.context();

    // The secret key first, mode 0600 from creation; an existing one is kept unless --force.
    const fs::path key_path = files.key_path();
    {
        WipedBytes secret{ckks::save(context, client.secret_key())};
        write_private(key_path, secret.bytes, o.force);
    }
    const fs::path client_path = files.path(files.client, "--client", "client.json", false);
    if (state && !client_path.empty())
        write_private(client_path, as_bytes(lr::save_client_state(*state)), true);
    const auto plan_bytes = lr::save_plan(config, context);
    write_public(files.plan_path(), plan_bytes);
    const auto eval_bytes = ckks::save(context, client.evaluation_keys());
    write_public(files.keys_path(), eval_bytes);
    const auto public_bytes = ckks::save(context, client.public_key());
    write_public(files.public_key_path(), public_bytes);
    const double seconds = seconds_since(t0);

    if (o.json) {
        json j;
        j["rows"] = config.rows;
        j["features"] = config.features;
        j["iterations"] = config.hyper.iterations;
        j["max_noninteractive_iterations"] = plan.max_noninteractive_iterations;
        j["scoring_levels"] = config.chain.scoring_levels;
        j["log_n"] = plan.parameters.log_n;
        j["levels"] = plan.levels;
        j["rotation_keys"] = plan.rotation_steps.size();
        j["sigmoid"] = plan.sigmoid.name;
        j["sigmoid_bound"] = config.sigmoid_bound;
        j["security_bits"] = 128;
        j["plan"] = files.plan_path().string();
        j["evaluation_keys"] = files.keys_path().string();
        j["evaluation_key_bytes"] = eval_bytes.size();
        j["public_key"] = files.public_key_path().string();
        j["secret_key"] = key_path.string();
        if (state && !client_path.empty()) j["client_state"] = client_path.string();
        j["seconds"] = seconds;
        std::cout << j.dump(2) << "\n";
        return;
    }
    std::cout << "plan: " << plan.describe() << "\n"
              << "wrote " << files.plan_path().string() << ", " << files.keys_path().string()
              << " (" << std::fixed << std::setprecision(1) << eval_bytes.size() / 1048576.0
              << " MiB), " << files.public_key_path().string() << ": public, for the server\n"
              << "wrote " << key_path.string()
              << (state && !client_path.empty() ? " and " + client_path.string() : std::string())
              << " (mode 0600): the client's only; never give them to the server\n"
              << "key generation " << std::setprecision(2) << seconds << " s\n";
}

// ---- encrypt ----

struct EncryptOptions {
    std::string csv, out, split;
    bool score = false, json = false;
    double train_fraction = 0.8;
    std::uint64_t seed = 1;
    KeyFiles files;
};

void run_encrypt(const EncryptOptions& o) {
    const auto t0 = Clock::now();
    const lr::PlanFile plan = load_plan_file(o.files);
    const lr::Problem table = load_table(o.csv);
    std::optional<lr::ClientState> state = load_client_state(o.files);
    if (!state) {
        // Keys made from --rows/--features: the client fits its standardizer now and keeps it.
        const fs::path p = o.files.path(o.files.client, "--client", "client.json", false);
        if (p.empty())
            throw CommandFailure(ErrorCategory::usage,
                                 "give --key-dir DIR or --client FILE (where the client keeps "
                                 "its standardizer)");
        state = lr::ClientState::fit(table, o.train_fraction, o.seed);
        write_private(p, as_bytes(lr::save_client_state(*state)), false);
        std::cerr << "henn: fitted the standardizer on the training rows; kept in " << p.string()
                  << " (mode 0600)\n";
    }
    const std::string split = o.split.empty() ? (o.score ? "test" : "train") : o.split;
    if (!o.score && split != "train")
        throw CommandFailure(ErrorCategory::usage,
                             "training rows are the client's training part (--split train); "
                             "use --score for rows to score");
    const lr::Problem rows = rows_of(*state, table, split);
    if (!o.score && rows.rows() != plan.plan.packing.rows)
        throw lr::LrError("the plan trains on " + std::to_string(plan.plan.packing.rows) +
                              " rows; this table's training part has " +
                              std::to_string(rows.rows()) +
                              " (give the table keygen was made from)",
                          ErrorCategory::data);
    lr::EncryptedFile file;
    file.kind = o.score ? lr::FileKind::scoring_rows : lr::FileKind::training_rows;
    file.rows = rows.rows();
    bool with_public_key = false;
    if (!o.files.public_key.empty() && o.files.key.empty()) {
        // Anyone holding the public key can encrypt rows (larger, unseeded ciphertexts).
        with_public_key = true;
        const ckks::PublicKey pk =
            lr::load_public_key(plan, read_bytes(o.files.public_key_path(), "public key"));
        const ckks::Encryptor encryptor(plan.context, pk);
        const ckks::Encoder encoder(plan.context);
        const lr::Packing packing = lr::packing_of(plan, file);
        const auto slots =
            o.score ? lr::pack_features(rows, packing) : lr::pack_rows(rows, packing);
        for (const auto& s : slots)
            file.ciphertexts.push_back(encryptor.encrypt(encoder.encode(s, -1, 0, packing.slots)));
    } else {
        const lr::Client client = load_client(o.files, plan);
        file.ciphertexts = o.score ? client.encrypt_features(rows) : client.encrypt_rows(rows);
    }
    const auto bytes = lr::save_encrypted(plan, file);
    write_public(o.out, bytes);
    const double seconds = seconds_since(t0);
    if (o.json) {
        std::cout << json{{"kind", lr::kind_name(file.kind)},
                          {"rows", file.rows},
                          {"split", split},
                          {"ciphertexts", file.ciphertexts.size()},
                          {"bytes", bytes.size()},
                          {"public_key_encryption", with_public_key},
                          {"seconds", seconds},
                          {"out", o.out}}
                         .dump(2)
                  << "\n";
        return;
    }
    std::cout << "encrypted " << file.rows << " " << lr::kind_name(file.kind) << " (" << split
              << " part) into " << file.ciphertexts.size() << " ciphertext(s)"
              << (with_public_key ? " with the public key" : "") << ", " << std::fixed
              << std::setprecision(2) << seconds << " s; wrote " << o.out << " ("
              << bytes.size() / 1048576.0 << " MiB)\n";
}

// ---- train ----

struct TrainOptions {
    std::string in, out;
    int iterations = 0, threads = 0;
    bool json = false, quiet = false;
    KeyFiles files;
};

void run_train(const TrainOptions& o) {
    if (o.threads) math::set_thread_count(o.threads);
    const auto t0 = Clock::now();
    // The server's inputs: plan, evaluation keys and encrypted rows. No secret key is read.
    const lr::PlanFile plan = load_plan_file(o.files);
    auto keys = std::make_shared<const ckks::EvaluationKeys>(
        lr::load_evaluation_keys(plan, read_bytes(o.files.keys_path(), "evaluation keys")));
    lr::EncryptedFile rows =
        lr::load_encrypted(plan, read_bytes(o.in, "encrypted rows"), lr::FileKind::training_rows);
    const lr::TrainingPlan run =
        lr::with_iterations(plan.plan, o.iterations ? o.iterations : plan.plan.hyper.iterations);
    const double load_seconds = seconds_since(t0);
    lr::EncryptedTrainer trainer(plan.context, keys, run, std::move(rows.ciphertexts));
    std::vector<lr::IterationReport> reports;
    const auto t1 = Clock::now();
    const double cpu0 = math::process_cpu_seconds();
    trainer.train(nullptr, [&](const lr::IterationReport& r) {
        reports.push_back(r);
        if (!o.quiet)
            std::cerr << "iteration " << r.iteration << "/" << run.hyper.iterations << ": level "
                      << r.level << ", " << std::fixed << std::setprecision(3) << r.seconds
                      << " s (" << r.cpu_seconds << " s CPU)" << std::endl;
    });
    const double train_seconds = seconds_since(t1);
    const double cpu_seconds = math::process_cpu_seconds() - cpu0;
    const auto& state = trainer.state();
    lr::EncryptedFile model{lr::FileKind::model,
                            plan.plan.packing.rows,
                            static_cast<std::uint32_t>(state.iteration),
                            {*state.v, *state.theta}};
    const auto bytes = lr::save_encrypted(plan, model);
    write_public(o.out, bytes);
    const int iterations = run.hyper.iterations;
    // The first iteration from zero weights is one constant product: the full ones apart.
    double full = 0, full_cpu = 0;
    for (std::size_t i = 1; i < reports.size(); ++i) {
        full += reports[i].seconds;
        full_cpu += reports[i].cpu_seconds;
    }
    const double full_count = reports.size() > 1 ? static_cast<double>(reports.size() - 1) : 1;
    if (o.json) {
        json j;
        j["iterations"] = iterations;
        j["rows"] = plan.plan.packing.rows;
        j["features"] = plan.plan.packing.features;
        j["ciphertexts"] = plan.plan.packing.ciphertexts;
        j["log_n"] = plan.plan.parameters.log_n;
        j["levels"] = plan.plan.levels;
        j["levels_left"] = state.theta->level;
        j["seconds_per_iteration"] = train_seconds / iterations;
        j["cpu_seconds_per_iteration"] = cpu_seconds / iterations;
        j["seconds_per_full_iteration"] = reports.size() > 1 ? full / full_count : 0.0;
        j["cpu_seconds_per_full_iteration"] = reports.size() > 1 ? full_cpu / full_count : 0.0;
        j["train_seconds"] = train_seconds;
        j["cpu_seconds"] = cpu_seconds;
        j["load_seconds"] = load_seconds;
        j["threads"] = math::thread_count();
        j["peak_memory_bytes"] = peak_memory_bytes();
        j["model_bytes"] = bytes.size();
        json per = json::array();
        for (const auto& r : reports)
            per.push_back(json{{"iteration", r.iteration},
                               {"level", r.level},
                               {"seconds", r.seconds},
                               {"cpu_seconds", r.cpu_seconds}});
        j["per_iteration"] = per;
        j["out"] = o.out;
        std::cout << j.dump(2) << "\n";
        return;
    }
    std::cout << std::fixed << std::setprecision(3) << "trained " << iterations << " iterations on "
              << plan.plan.packing.rows << " encrypted rows in " << train_seconds << " s ("
              << train_seconds / iterations << " s per iteration, " << cpu_seconds / iterations
              << " s CPU per iteration); " << state.theta->level << " levels left; wrote " << o.out
              << "\n";
}

// ---- decrypt ----

struct DecryptOptions {
    std::string in, out, csv, split;
    bool json = false;
    KeyFiles files;
};

void run_decrypt(const DecryptOptions& o) {
    const lr::PlanFile plan = load_plan_file(o.files);
    const auto bytes = read_bytes(o.in, "encrypted file");
    const lr::FileKind kind = lr::peek_kind(bytes);
    if (kind != lr::FileKind::model && kind != lr::FileKind::scores)
        throw CommandFailure(ErrorCategory::usage, o.in + " holds " + lr::kind_name(kind) +
                                                       "; decrypt takes a model or scores");
    const lr::EncryptedFile file = lr::load_encrypted(plan, bytes, kind);
    const lr::Client client = load_client(o.files, plan);
    const std::optional<lr::ClientState> state = load_client_state(o.files);
    std::optional<lr::Problem> table;
    if (!o.csv.empty()) {
        if (!state)
            throw CommandFailure(ErrorCategory::usage,
                                 "--csv needs the client state (--client FILE or --key-dir DIR)");
        table = load_table(o.csv);
    }
    json j;
    if (kind == lr::FileKind::model) {
        lr::PlainModel model;
        model.model.weights = client.decrypt_weights(file.ciphertexts[1]);
        if (state) {
            model.standardizer = state->standardizer;
            model.clip = state->clip;
        } else {
            // Without the client's standardizer the model applies to standardized rows as-is.
            model.standardizer.mean.assign(plan.plan.packing.features, 0.0);
            model.standardizer.stddev.assign(plan.plan.packing.features, 1.0);
            std::cerr << "henn: warning: no client state: the model's standardizer is the "
                         "identity\n";
        }
        model.iterations = static_cast<int>(file.iterations);
        model.optimizer = lr::optimizer_name(plan.plan.hyper.optimizer);
        model.sigmoid = plan.plan.sigmoid.name;
        if (!o.out.empty()) write_private(o.out, as_bytes(lr::save_plain_model(model)), true);
        j["iterations"] = file.iterations;
        j["bias"] = model.model.weights[0];
        j["weights"] =
            std::vector<double>(model.model.weights.begin() + 1, model.model.weights.end());
        if (table) {
            // The client still has its rows: held-out accuracy, and the same iterations in
            // plaintext (identical arithmetic, and float LR with the true sigmoid).
            const lr::Split s = state->prepare(*table);
            lr::Hyperparameters hyper = plan.plan.hyper;
            hyper.iterations = static_cast<int>(file.iterations);
            const lr::Model reference = lr::train_reference(s.train, hyper, plan.plan.sigmoid);
            const lr::Model float_model = lr::train_float(s.train, hyper);
            const lr::Problem& eval = s.test.rows() ? s.test : s.train;
            const lr::Metrics m = lr::evaluate(model.model, eval);
            const lr::Metrics r = lr::evaluate(reference, eval);
            const lr::Metrics f = lr::evaluate(float_model, eval);
            const double diff = lr::max_weight_difference(reference, model.model);
            j["evaluated_on"] = s.test.rows() ? "test" : "train";
            j["evaluated_rows"] = eval.rows();
            j["accuracy"] = m.accuracy;
            j["auc"] = m.auc;
            j["accuracy_identical_arithmetic"] = r.accuracy;
            j["accuracy_float"] = f.accuracy;
            j["auc_identical_arithmetic"] = r.auc;
            j["auc_float"] = f.auc;
            j["max_coefficient_difference"] = diff;
        }
        if (!o.out.empty()) j["out"] = o.out;
    } else {
        const lr::Packing packing = lr::packing_of(plan, file);
        const std::vector<double> scores = client.decrypt_scores(file.ciphertexts, packing);
        std::vector<double> probabilities;
        for (double s : scores) probabilities.push_back(lr::probability(s));
        j["rows"] = scores.size();
        j["scores"] = scores;
        j["probabilities"] = probabilities;
        if (table) {
            const std::string split = o.split.empty() ? "test" : o.split;
            const lr::Problem rows = rows_of(*state, *table, split);
            if (rows.rows() != scores.size())
                throw lr::LrError(std::to_string(scores.size()) + " scores, but the " + split +
                                      " part of the table has " + std::to_string(rows.rows()) +
                                      " rows (give the --split the rows were encrypted from)",
                                  ErrorCategory::data);
            std::size_t correct = 0;
            for (std::size_t i = 0; i < scores.size(); ++i)
                correct += (scores[i] > 0) == (rows.y[i] == 1);
            j["accuracy"] = static_cast<double>(correct) / static_cast<double>(scores.size());
            j["split"] = split;
        }
        if (!o.out.empty()) {
            std::ostringstream csv;
            csv << "score,probability\n" << std::setprecision(10);
            for (std::size_t i = 0; i < scores.size(); ++i)
                csv << scores[i] << "," << probabilities[i] << "\n";
            write_private(o.out, as_bytes(csv.str()), true);
            j["out"] = o.out;
        }
    }
    if (o.json) {
        std::cout << j.dump(2) << "\n";
        return;
    }
    if (kind == lr::FileKind::model) {
        std::cout << "decrypted the model after " << file.iterations << " iterations: bias "
                  << std::setprecision(6) << j["bias"].get<double>() << ", "
                  << plan.plan.packing.features << " weights"
                  << (o.out.empty() ? "" : "; wrote " + o.out) << "\n";
        if (table)
            std::cout << std::fixed << std::setprecision(4) << "accuracy "
                      << percent(j["accuracy"].get<double>()) << " (AUC " << j["auc"].get<double>()
                      << ") on " << j["evaluated_rows"].get<std::size_t>() << " "
                      << j["evaluated_on"].get<std::string>() << " rows; identical arithmetic "
                      << percent(j["accuracy_identical_arithmetic"].get<double>()) << ", float LR "
                      << percent(j["accuracy_float"].get<double>())
                      << "; largest coefficient difference " << std::scientific
                      << std::setprecision(2) << j["max_coefficient_difference"].get<double>()
                      << "\n";
    } else {
        std::cout << "decrypted " << j["rows"].get<std::size_t>() << " scores"
                  << (o.out.empty() ? "" : "; wrote " + o.out);
        if (j.contains("accuracy"))
            std::cout << "; accuracy " << percent(j["accuracy"].get<double>());
        std::cout << "\n";
    }
}

// ---- predict ----

struct PredictOptions {
    std::string model, encrypted_model, csv, in, out, split;
    bool json = false;
    KeyFiles files;
};

void run_predict_plain(const PredictOptions& o) {
    if (o.model.empty() || o.csv.empty())
        throw CommandFailure(ErrorCategory::usage,
                             "give --model FILE and --csv FILE (plain rows), or --in FILE "
                             "(encrypted rows, on the server)");
    const lr::PlainModel model = lr::load_plain_model(read_text(o.model, "model"));
    const lr::Problem table = load_table(o.csv);
    std::optional<lr::ClientState> state;
    if (!o.files.dir.empty() || !o.files.client.empty()) state = load_client_state(o.files);
    const std::string split = o.split.empty() ? (state ? "test" : "all") : o.split;
    lr::Problem rows;
    if (split == "all") {
        rows = model.standardize(table);
    } else {
        if (!state)
            throw CommandFailure(
                ErrorCategory::usage,
                "--split " + split + " needs the client state (--client FILE or --key-dir DIR)");
        lr::Split s = lr::split_rows(table, state->train_fraction, state->seed);
        rows = model.standardize(split == "train" ? s.train : s.test);
        if (rows.rows() == 0)
            throw CommandFailure(ErrorCategory::usage, "the " + split + " part is empty");
    }
    const std::vector<double> scores = lr::score_rows(model.model, rows);
    const lr::Metrics m = lr::evaluate(model.model, rows);
    std::vector<double> probabilities;
    for (double s : scores) probabilities.push_back(lr::probability(s));
    if (!o.out.empty()) {
        std::ostringstream csv;
        csv << "score,probability,label\n" << std::setprecision(10);
        for (std::size_t i = 0; i < scores.size(); ++i)
            csv << scores[i] << "," << probabilities[i] << "," << rows.y[i] << "\n";
        write_private(o.out, as_bytes(csv.str()), true);
    }
    if (o.json) {
        std::cout << json{{"rows", scores.size()},  {"split", split},
                          {"accuracy", m.accuracy}, {"auc", m.auc},
                          {"scores", scores},       {"probabilities", probabilities}}
                         .dump(2)
                  << "\n";
        return;
    }
    std::cout << std::fixed << std::setprecision(4) << "scored " << scores.size() << " rows ("
              << split << "): accuracy " << percent(m.accuracy) << ", AUC " << m.auc
              << (o.out.empty() ? "" : "; wrote " + o.out) << "\n";
}

void run_predict_encrypted(const PredictOptions& o) {
    if (o.out.empty())
        throw CommandFailure(ErrorCategory::usage,
                             "-o,--out FILE is required for encrypted scores");
    if (o.model.empty() == o.encrypted_model.empty())
        throw CommandFailure(ErrorCategory::usage,
                             "give one of --model FILE (plain) or --encrypted-model FILE");
    const auto t0 = Clock::now();
    const lr::PlanFile plan = load_plan_file(o.files);
    auto keys = std::make_shared<const ckks::EvaluationKeys>(
        lr::load_evaluation_keys(plan, read_bytes(o.files.keys_path(), "evaluation keys")));
    const lr::EncryptedFile rows =
        lr::load_encrypted(plan, read_bytes(o.in, "rows to score"), lr::FileKind::scoring_rows);
    const lr::Packing packing = lr::packing_of(plan, rows);
    const ckks::Evaluator evaluator(plan.context, keys);
    const double cpu0 = math::process_cpu_seconds();
    const auto t1 = Clock::now();
    lr::EncryptedFile scores{lr::FileKind::scores, rows.rows, 0, {}};
    if (!o.encrypted_model.empty()) {
        const lr::EncryptedFile model = lr::load_encrypted(
            plan, read_bytes(o.encrypted_model, "encrypted model"), lr::FileKind::model);
        scores.ciphertexts = lr::score_encrypted(evaluator, packing, rows.ciphertexts,
                                                 model.ciphertexts[1], plan.config.chain.radix);
    } else {
        const lr::PlainModel model = lr::load_plain_model(read_text(o.model, "model"));
        if (model.model.weights.size() != plan.plan.packing.features + 1)
            throw lr::LrError("the model has " + std::to_string(model.model.weights.size() - 1) +
                                  " features, the rows " +
                                  std::to_string(plan.plan.packing.features),
                              ErrorCategory::data);
        scores.ciphertexts = lr::score_encrypted(evaluator, packing, rows.ciphertexts,
                                                 model.model.weights, plan.config.chain.radix);
    }
    const double seconds = seconds_since(t1), cpu = math::process_cpu_seconds() - cpu0;
    const auto bytes = lr::save_encrypted(plan, scores);
    write_public(o.out, bytes);
    if (o.json) {
        std::cout << json{{"rows", rows.rows},
                          {"ciphertexts", rows.ciphertexts.size()},
                          {"model", o.encrypted_model.empty() ? "plain" : "encrypted"},
                          {"seconds", seconds},
                          {"cpu_seconds", cpu},
                          {"total_seconds", seconds_since(t0)},
                          {"levels_left", scores.ciphertexts.front().level},
                          {"bytes", bytes.size()},
                          {"out", o.out}}
                         .dump(2)
                  << "\n";
        return;
    }
    std::cout << std::fixed << std::setprecision(3) << "scored " << rows.rows
              << " encrypted rows with the " << (o.encrypted_model.empty() ? "plain" : "encrypted")
              << " model in " << seconds << " s; wrote " << o.out
              << " (the client decrypts it with henn lr decrypt)\n";
}

// ---- registration ----

void add_plan_flags(CLI::App* cmd, KeygenOptions& o) {
    cmd->add_option("--iterations", o.iterations, "Gradient iterations")
        ->capture_default_str()
        ->check(CLI::Range(1, 10000));
    cmd->add_option("--optimizer", o.optimizer, "nesterov or gd")
        ->capture_default_str()
        ->check(CLI::IsMember({"nesterov", "gd"}));
    cmd->add_option("--sigmoid", o.sigmoid,
                    "poly3 (the study's 0.5 + 0.197x - 0.004x^3), minimax:D or least-squares:D (D "
                    "= 3, 5, 7)")
        ->capture_default_str()
        ->check(CLI::IsMember({"poly3", "minimax:3", "minimax:5", "minimax:7", "least-squares:3",
                               "least-squares:5", "least-squares:7"}));
    cmd->add_option("--learning-rate", o.learning_rate, "alpha")->capture_default_str();
    cmd->add_option("--l2", o.l2, "lambda (L2 regularisation, the study's rule)")
        ->capture_default_str();
    cmd->add_option("--bound", o.bound,
                    "Sigmoid interval [-B, B] (default: from the data; 8 without --csv)");
    cmd->add_option("--log-n", o.log_n, "Ring degree 2^N (default: the smallest that fits)")
        ->check(CLI::Range(13, 16));
    cmd->add_option("--radix", o.radix, "Rotate-and-sum radix (2: fewest keys)")
        ->capture_default_str()
        ->check(CLI::IsMember({2, 4, 8, 16}));
    cmd->add_option("--scoring-levels", o.scoring_levels,
                    "Levels kept after the last iteration so the encrypted model can score "
                    "encrypted rows (0: none)")
        ->capture_default_str()
        ->check(CLI::IsMember({0, lr::kScoringLevels}));
    cmd->add_option("--train-fraction", o.train_fraction,
                    "Share of the table's rows to train on (the rest is held out; 1: all)")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 1.0));
    add_seed_option(cmd, o.seed);
}

void setup(CLI::App& root) {
    auto* lr_cmd =
        command_group(root, "lr", "Logistic regression trained on encrypted data (CKKS)");
    {
        const auto o = std::make_shared<KeygenOptions>();
        auto* cmd = lr_cmd->add_subcommand(
            "keygen",
            "Client: fix the training plan and make the keys (plan.lr, evaluation.keys and "
            "public.key for the server; secret.key and client.json, mode 0600, for the client)");
        add_csv_option(cmd, o->csv, "Training table (CSV, last column a 0/1 label)");
        cmd->add_option("--rows", o->rows, "Training rows (without --csv)");
        cmd->add_option("--features", o->features, "Features (without --csv)");
        add_plan_flags(cmd, *o);
        cmd->add_option("--out", o->out, "Directory for the five files");
        add_plan_option(cmd, o->files);
        add_eval_keys_option(cmd, o->files);
        cmd->add_option("--public-key", o->files.public_key,
                        "public.key (default: OUT/public.key)");
        add_secret_key_option(cmd, o->files);
        add_client_option(cmd, o->files);
        cmd->add_flag("--force", o->force, "Replace an existing secret key");
        add_json_flag(cmd, o->json);
        cmd->callback([o] { run_keygen(*o); });
    }
    {
        const auto o = std::make_shared<EncryptOptions>();
        auto* cmd = lr_cmd->add_subcommand(
            "encrypt",
            "Client: standardize, pack and encrypt the table's training rows (or rows to score, "
            "--score)");
        add_csv_option(cmd, o->csv, "The table (CSV, last column a 0/1 label)")->required();
        add_key_dir_option(cmd, o->files, "Directory of henn lr keygen's files");
        add_plan_option(cmd, o->files);
        add_secret_key_option(cmd, o->files);
        cmd->add_option("--public-key", o->files.public_key,
                        "Encrypt with public.key instead of the secret key");
        add_client_option(cmd, o->files);
        cmd->add_flag("--score", o->score, "Rows to score (features only), not to train on");
        add_split_option(cmd, o->split, "Rows of the table to score: train, test (default) or all");
        cmd->add_option("--train-fraction", o->train_fraction,
                        "Without a client state: share of the rows to train on")
            ->capture_default_str()
            ->check(CLI::Range(0.01, 1.0));
        add_seed_option(cmd, o->seed);
        cmd->add_option("-o,--out", o->out, "Encrypted rows to write")->required();
        add_json_flag(cmd, o->json);
        cmd->callback([o] { run_encrypt(*o); });
    }
    {
        const auto o = std::make_shared<TrainOptions>();
        auto* cmd = lr_cmd->add_subcommand(
            "train",
            "Server: train on encrypted rows (plan, evaluation keys and ciphertexts only; "
            "non-interactive) and write the encrypted model");
        add_key_dir_option(cmd, o->files,
                           "Directory holding plan.lr and evaluation.keys (nothing else is read)");
        add_plan_option(cmd, o->files);
        add_eval_keys_option(cmd, o->files);
        cmd->add_option("--in", o->in, "Encrypted training rows from henn lr encrypt")->required();
        cmd->add_option("--iterations", o->iterations,
                        "Iterations (default: the plan's; at most what the chain holds)")
            ->check(CLI::Range(1, 10000));
        cmd->add_option("-o,--out", o->out, "Encrypted model to write")->required();
        add_threads_option(cmd, o->threads);
        add_quiet_flag(cmd, o->quiet);
        add_json_flag(cmd, o->json);
        cmd->callback([o] { run_train(*o); });
    }
    {
        const auto o = std::make_shared<DecryptOptions>();
        auto* cmd = lr_cmd->add_subcommand(
            "decrypt",
            "Client: decrypt an encrypted model (into a plain model, JSON) or encrypted scores");
        cmd->add_option("--in", o->in, "Encrypted model from train, or scores from predict")
            ->required();
        add_key_dir_option(cmd, o->files, "Directory of henn lr keygen's files");
        add_plan_option(cmd, o->files);
        add_secret_key_option(cmd, o->files);
        add_client_option(cmd, o->files);
        add_csv_option(cmd, o->csv,
                       "The client's table: held-out accuracy and the plaintext runs (model), or "
                       "the labels of the scored rows (scores)");
        add_split_option(cmd, o->split, "Scores: the part of the table that was scored (test)");
        cmd->add_option("-o,--out", o->out,
                        "Plain model (JSON) or scores (CSV) to write, mode 0600");
        add_json_flag(cmd, o->json);
        cmd->callback([o] { run_decrypt(*o); });
    }
    {
        const auto o = std::make_shared<PredictOptions>();
        auto* cmd = lr_cmd->add_subcommand(
            "predict",
            "Score rows: a plain model on a table (probabilities, accuracy, AUC), or on the "
            "server encrypted rows (--in) with a plain or an encrypted model");
        cmd->add_option("--model", o->model, "Plain model (JSON) from henn lr decrypt");
        cmd->add_option("--encrypted-model", o->encrypted_model,
                        "Encrypted model from henn lr train (server, with --in)");
        add_csv_option(cmd, o->csv, "Plain rows to score (CSV with labels)");
        add_split_option(cmd, o->split,
                         "Plain rows: train, test or all (default: test with the client state, "
                         "else all)");
        cmd->add_option("--in", o->in, "Encrypted rows to score (henn lr encrypt --score)");
        add_key_dir_option(cmd, o->files,
                           "Directory of keygen's files (plain: client.json for --split; "
                           "encrypted: plan.lr, evaluation.keys)");
        add_plan_option(cmd, o->files);
        add_eval_keys_option(cmd, o->files);
        add_client_option(cmd, o->files);
        cmd->add_option("-o,--out", o->out,
                        "Encrypted scores (with --in), or scores and probabilities (CSV)");
        add_json_flag(cmd, o->json);
        cmd->callback([o] {
            if (o->in.empty())
                run_predict_plain(*o);
            else
                run_predict_encrypted(*o);
        });
    }
}

const CommandRegistrar registrar(56, "lr roles", setup);

}  // namespace
}  // namespace henn::cli
