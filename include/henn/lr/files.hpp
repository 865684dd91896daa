// The files of the separate roles (`henn lr keygen | encrypt | train | decrypt | predict`).
//
//   plan        (public)  the run's configuration and the CKKS parameters it plans: what the
//                         server needs to know and re-derive (load_plan refuses parameters that
//                         the configuration would not choose, so a 128-bit plan stays one)
//   evaluation keys, public key (public): the ckks formats (ckks::save / load_evaluation_keys)
//   secret key  (client only, mode 0600): the ckks format
//   client state (client only, JSON): how the client split and standardized its table
//   encrypted   (public)  rows for training or scoring, an encrypted model (v, theta) or
//                         encrypted scores: one versioned container of seeded ckks ciphertexts
//   plain model (client, JSON): coefficients and the standardizer they apply after
//
// Every loader treats its bytes as untrusted: sizes, ranges, kinds and the parameters they
// belong to are checked, and a bad file is an LrError naming the problem (category data for
// malformed or truncated bytes, protocol for a file that belongs to other keys or another plan),
// never a crash.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "henn/ckks/keys.hpp"
#include "henn/ckks/objects.hpp"
#include "henn/data/data.hpp"
#include "henn/lr/encrypted.hpp"
#include "henn/lr/lr.hpp"

namespace henn::lr {

inline constexpr std::uint16_t kFileVersion = 1;

// Everything a training plan is derived from: what the plan file stores and what the gRPC
// service's client sends (the server re-derives the plan, so a client cannot hand it parameters
// the plan would not choose).
struct TrainingConfig {
    std::size_t rows = 0, features = 0;
    Hyperparameters hyper;
    std::string sigmoid = "poly3";
    double sigmoid_bound = 8;
    int refresh_every = 0;  // client-aided refresh every k iterations; 0: non-interactive
    ChainOptions chain;
    TrainingPlan plan() const;
};

// The plan file, loaded: its configuration, the plan re-derived from it, and the context of the
// parameters it stores (checked equal to the plan's).
struct PlanFile {
    TrainingConfig config;
    TrainingPlan plan;
    ckks::ContextPtr context;
};

struct FileOptions {
    // Tests only: accept a plan made with ChainOptions::test_only_insecure. Never set by the CLI.
    bool allow_test_only_insecure = false;
};

std::vector<std::uint8_t> save_plan(const TrainingConfig& config, const ckks::Context& context);
PlanFile load_plan(std::span<const std::uint8_t> bytes, const FileOptions& options = {});

// The keys in the ckks formats, checked against the plan: the evaluation keys must hold the
// relinearization key and every rotation the plan needs.
ckks::EvaluationKeys load_evaluation_keys(const PlanFile& plan,
                                          std::span<const std::uint8_t> bytes);
ckks::SecretKey load_secret_key(const PlanFile& plan, std::span<const std::uint8_t> bytes);
ckks::PublicKey load_public_key(const PlanFile& plan, std::span<const std::uint8_t> bytes);

enum class FileKind : std::uint8_t {
    training_rows = 1,  // z_i = (2 y_i - 1) [1, x_i], the plan's packing
    scoring_rows = 2,   // [1, x_i] (pack_features)
    model = 3,          // the encrypted weights: ciphertexts {v, theta}
    scores = 4,         // one score per row at the first slot of its block
};
std::string kind_name(FileKind kind);  // "training rows", ...

struct EncryptedFile {
    FileKind kind = FileKind::training_rows;
    std::uint64_t rows = 0;        // rows held (the training rows for a model)
    std::uint32_t iterations = 0;  // model: iterations run (0 otherwise)
    std::vector<ckks::Ciphertext> ciphertexts;
};

// The packing of a file's ciphertexts (rows in the plan's blocks and slots).
Packing packing_of(const PlanFile& plan, const EncryptedFile& file);

std::vector<std::uint8_t> save_encrypted(const PlanFile& plan, const EncryptedFile& file);
// The kind a file says it is (magic and version checked, nothing else).
FileKind peek_kind(std::span<const std::uint8_t> bytes);
// Loads and checks against the plan: the kind must be `expected`, the parameters the plan's, the
// counts the plan's packing.
EncryptedFile load_encrypted(const PlanFile& plan, std::span<const std::uint8_t> bytes,
                             FileKind expected);

// How the client split and standardized its table (kept with the secret key: the means and
// deviations describe the client's data).
struct ClientState {
    double train_fraction = 0.8;
    std::uint64_t seed = 1;
    double clip = 5;
    std::size_t table_rows = 0;  // rows of the table the split was made of
    data::Standardizer standardizer;
    // The split (split_rows) of a table with the same rows, standardized (test empty when
    // train_fraction is 1). LrError (data) if the table does not match.
    Split prepare(const Problem& table) const;
    // Fits the standardizer on the training part of `table`.
    static ClientState fit(const Problem& table, double train_fraction, std::uint64_t seed,
                           double clip = 5);
};
std::string save_client_state(const ClientState& state);
ClientState load_client_state(std::string_view json);

// A decrypted (or plaintext-trained) model: [bias, w_1, ..., w_f] on standardized features, the
// standardizer and clip that map raw rows to them, and what made it.
struct PlainModel {
    Model model;
    data::Standardizer standardizer;
    double clip = 5;
    int iterations = 0;
    std::string optimizer, sigmoid;
    // Raw rows (features x rows, row-major) standardized as the model expects.
    Problem standardize(const Problem& raw) const;
};
std::string save_plain_model(const PlainModel& model);
PlainModel load_plain_model(std::string_view json);

}  // namespace henn::lr
