#include "henn/lr/files.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "henn/ckks/errors.hpp"
#include "henn/ckks/serialization.hpp"
#include "henn/math/bytes.hpp"

namespace henn::lr {

namespace {

constexpr char kPlanMagic[8] = {'H', 'E', 'N', 'N', 'L', 'R', 'P', 'L'};
constexpr char kCipherMagic[8] = {'H', 'E', 'N', 'N', 'L', 'R', 'C', 'T'};
constexpr std::uint64_t kMaxRows = 100'000'000;
constexpr std::uint64_t kMaxFeatures = 4096;

[[noreturn]] void fail(const std::string& what, const std::string& message,
                       ErrorCategory category = ErrorCategory::data) {
    throw LrError(what + ": " + message, category);
}

math::ByteReader reader(std::span<const std::uint8_t> bytes, const std::string& what) {
    return math::ByteReader(bytes, [what](const std::string& m) { fail(what, m); });
}

void expect_magic(math::ByteReader& r, const char (&magic)[8], const std::string& what) {
    char got[8];
    r.raw(got, sizeof got);
    if (!std::equal(got, got + 8, magic))
        fail(what, "not a henn logistic-regression " + what + " file (bad magic bytes)");
    const auto version = r.u16();
    if (version != kFileVersion)
        fail(what, "format version " + std::to_string(version) +
                       " is not supported (this build reads version " +
                       std::to_string(kFileVersion) + ")");
}

std::string hex(std::uint64_t h) {
    static const char* digits = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, h >>= 4) s[static_cast<std::size_t>(i)] = digits[h & 15];
    return s;
}

template <class F>
auto ckks_checked(const std::string& what, F&& f) {
    try {
        return f();
    } catch (const ckks::Error& e) {
        fail(what, e.what(),
             e.category() == ErrorCategory::data ? ErrorCategory::data : ErrorCategory::protocol);
    }
}

void check_hash(const PlanFile& plan, std::uint64_t hash, const std::string& what) {
    if (hash != plan.context->parameter_hash())
        fail(what,
             "belongs to parameters " + hex(hash) + ", not to this plan's (" +
                 hex(plan.context->parameter_hash()) + "); use the files made with the same keys",
             ErrorCategory::protocol);
}

// A ckks blob made under other parameters is a file from other keys (protocol), not bad bytes.
void check_blob_hash(const PlanFile& plan, std::span<const std::uint8_t> bytes,
                     const std::string& what) {
    const ckks::BlobHeader header = ckks_checked(what, [&] { return ckks::read_header(bytes); });
    check_hash(plan, header.parameter_hash, what);
}

std::vector<double> json_vector(const nlohmann::json& j, const char* key, std::size_t size,
                                const std::string& what) {
    if (!j.contains(key) || !j[key].is_array() || j[key].size() != size)
        fail(what,
             std::string("'") + key + "' must be an array of " + std::to_string(size) + " numbers");
    std::vector<double> out;
    for (const auto& v : j[key]) {
        if (!v.is_number()) fail(what, std::string("'") + key + "' holds a non-number");
        const double x = v.get<double>();
        if (!std::isfinite(x)) fail(what, std::string("'") + key + "' holds a non-finite value");
        out.push_back(x);
    }
    return out;
}

nlohmann::json parse_json(std::string_view text, const std::string& what,
                          const std::string& format) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail(what, "not a JSON object");
    if (!j.contains("format") || j["format"] != format)
        fail(what, "not a " + format + " file ('format' is not \"" + format + "\")");
    if (!j.contains("version") || !j["version"].is_number_integer() || j["version"] != 1)
        fail(what, "version must be 1");
    return j;
}

data::Standardizer standardizer_from(const nlohmann::json& j, std::size_t features,
                                     const std::string& what) {
    data::Standardizer s;
    s.mean = json_vector(j, "mean", features, what);
    s.stddev = json_vector(j, "stddev", features, what);
    for (double d : s.stddev)
        if (!(d > 0)) fail(what, "a standard deviation is not positive");
    return s;
}

std::size_t json_size(const nlohmann::json& j, const char* key, std::size_t lo, std::size_t hi,
                      const std::string& what) {
    if (!j.contains(key) || !j[key].is_number_unsigned() || j[key].get<std::uint64_t>() < lo ||
        j[key].get<std::uint64_t>() > hi)
        fail(what, std::string("'") + key + "' must be an integer in [" + std::to_string(lo) +
                       ", " + std::to_string(hi) + "]");
    return j[key].get<std::size_t>();
}

double json_number(const nlohmann::json& j, const char* key, double lo, double hi,
                   const std::string& what) {
    if (!j.contains(key) || !j[key].is_number() || !(j[key].get<double>() >= lo) ||
        !(j[key].get<double>() <= hi))
        fail(what, std::string("'") + key + "' must be a number in [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "]");
    return j[key].get<double>();
}

}  // namespace

// ---- plan ----

TrainingPlan TrainingConfig::plan() const {
    return plan_training(rows, features, hyper, make_sigmoid(sigmoid, sigmoid_bound),
                         refresh_every > 0 ? Mode::client_aided : Mode::non_interactive,
                         refresh_every, chain);
}

std::vector<std::uint8_t> save_plan(const TrainingConfig& c, const ckks::Context& context) {
    if (c.refresh_every != 0)
        throw LrError("a plan file describes a non-interactive run (no client-aided refresh)",
                      ErrorCategory::usage);
    const TrainingPlan plan = c.plan();
    if (ckks::Context::create(plan.parameters)->parameter_hash() != context.parameter_hash())
        throw LrError("the parameters are not the ones the configuration plans",
                      ErrorCategory::internal);
    math::ByteWriter w;
    w.raw(kPlanMagic, sizeof kPlanMagic);
    w.u16(kFileVersion);
    w.u64(c.rows);
    w.u32(static_cast<std::uint32_t>(c.features));
    w.u8(c.hyper.optimizer == Optimizer::nesterov ? 1 : 0);
    w.f64(c.hyper.learning_rate);
    w.f64(c.hyper.l2);
    w.u32(static_cast<std::uint32_t>(c.hyper.iterations));
    w.u16(static_cast<std::uint16_t>(c.sigmoid.size()));
    w.raw(c.sigmoid.data(), c.sigmoid.size());
    w.f64(c.sigmoid_bound);
    w.u8(static_cast<std::uint8_t>(c.chain.log_n));
    w.u8(static_cast<std::uint8_t>(c.chain.scale_bits));
    w.u8(static_cast<std::uint8_t>(c.chain.first_bits));
    w.u8(static_cast<std::uint8_t>(c.chain.special_bits));
    w.u8(static_cast<std::uint8_t>(c.chain.digits));
    w.u8(static_cast<std::uint8_t>(c.chain.radix));
    w.u8(static_cast<std::uint8_t>(c.chain.scoring_levels));
    w.u8(c.chain.test_only_insecure ? 1 : 0);
    const auto parameters = ckks::save_parameters(context);
    w.u64(parameters.size());
    w.raw(parameters);
    return w.take();
}

PlanFile load_plan(std::span<const std::uint8_t> bytes, const FileOptions& options) {
    const std::string what = "plan";
    auto r = reader(bytes, what);
    expect_magic(r, kPlanMagic, what);
    TrainingConfig c;
    c.rows = r.u64();
    if (c.rows == 0 || c.rows > kMaxRows) fail(what, "rows out of range");
    c.features = r.u32();
    if (c.features == 0 || c.features > kMaxFeatures) fail(what, "features out of range");
    const auto optimizer = r.u8();
    if (optimizer > 1) fail(what, "unknown optimizer");
    c.hyper.optimizer = optimizer ? Optimizer::nesterov : Optimizer::gradient_descent;
    c.hyper.learning_rate = r.f64();
    c.hyper.l2 = r.f64();
    if (!(c.hyper.learning_rate > 0 && c.hyper.learning_rate < 1e6) ||
        !(c.hyper.l2 >= 0 && c.hyper.l2 < 1e9))
        fail(what, "learning rate or l2 out of range");
    const auto iterations = r.u32();
    if (iterations == 0 || iterations > 10'000) fail(what, "iterations out of range");
    c.hyper.iterations = static_cast<int>(iterations);
    const auto sigmoid_size = r.u16();
    if (sigmoid_size > 64) fail(what, "sigmoid name too long");
    c.sigmoid.resize(sigmoid_size);
    r.raw(c.sigmoid.data(), sigmoid_size);
    c.sigmoid_bound = r.f64();
    if (!(c.sigmoid_bound > 0 && c.sigmoid_bound <= 1024)) fail(what, "sigmoid bound out of range");
    c.chain.log_n = r.u8();
    c.chain.scale_bits = r.u8();
    c.chain.first_bits = r.u8();
    c.chain.special_bits = r.u8();
    c.chain.digits = r.u8();
    c.chain.radix = r.u8();
    c.chain.scoring_levels = r.u8();
    const auto insecure = r.u8();
    if (insecure > 1) fail(what, "bad flag");
    c.chain.test_only_insecure = insecure == 1;
    if (c.chain.log_n != 0 &&
        (c.chain.log_n < (c.chain.test_only_insecure ? 10 : 13) || c.chain.log_n > 16))
        fail(what, "ring out of range");
    if (c.chain.scale_bits < 20 || c.chain.scale_bits > 60 || c.chain.first_bits < 20 ||
        c.chain.first_bits > 60 || c.chain.special_bits < 20 || c.chain.special_bits > 61 ||
        c.chain.digits < 1 || c.chain.digits > 16)
        fail(what, "chain bit sizes or digits out of range");
    if (c.chain.radix < 2 || c.chain.radix > 64 || (c.chain.radix & (c.chain.radix - 1)))
        fail(what, "radix must be a power of two in [2, 64]");
    if (c.chain.scoring_levels > 8) fail(what, "scoring levels out of range");
    if (c.chain.test_only_insecure && !options.allow_test_only_insecure)
        fail(what,
             "made with test-only insecure parameters (below 128-bit security); refused outside "
             "tests",
             ErrorCategory::parameters);
    const auto size = r.u64();
    if (size != r.remaining()) fail(what, "the parameters' length does not match the file");
    const auto blob = r.bytes(static_cast<std::size_t>(size));
    PlanFile out;
    out.config = c;
    out.plan = c.plan();  // LrError (sigmoid, chain) as for any configuration
    ckks::LoadOptions load;
    load.allow_insecure_parameters = c.chain.test_only_insecure;
    out.context = ckks_checked(what, [&] { return ckks::load_parameters(blob, load); });
    if (out.context->parameter_hash() !=
        ckks::Context::create(out.plan.parameters)->parameter_hash())
        fail(what, "the parameters are not the ones the configuration plans",
             ErrorCategory::protocol);
    return out;
}

ckks::EvaluationKeys load_evaluation_keys(const PlanFile& plan,
                                          std::span<const std::uint8_t> bytes) {
    const std::string what = "evaluation keys";
    check_blob_hash(plan, bytes, what);
    ckks::EvaluationKeys keys =
        ckks_checked(what, [&] { return ckks::load_evaluation_keys(*plan.context, bytes); });
    if (!keys.relinearization) fail(what, "no relinearization key", ErrorCategory::protocol);
    for (int step : plan.plan.rotation_steps)
        if (!keys.galois.has(plan.context->galois_element_for_rotation(step)))
            fail(what, "no key for a rotation by " + std::to_string(step) + " the plan needs",
                 ErrorCategory::protocol);
    return keys;
}

ckks::SecretKey load_secret_key(const PlanFile& plan, std::span<const std::uint8_t> bytes) {
    check_blob_hash(plan, bytes, "secret key");
    return ckks_checked("secret key", [&] { return ckks::load_secret_key(*plan.context, bytes); });
}

ckks::PublicKey load_public_key(const PlanFile& plan, std::span<const std::uint8_t> bytes) {
    check_blob_hash(plan, bytes, "public key");
    return ckks_checked("public key", [&] { return ckks::load_public_key(*plan.context, bytes); });
}

// ---- ciphertexts ----

std::string kind_name(FileKind kind) {
    switch (kind) {
        case FileKind::training_rows:
            return "training rows";
        case FileKind::scoring_rows:
            return "rows to score";
        case FileKind::model:
            return "encrypted model";
        case FileKind::scores:
            return "encrypted scores";
    }
    return "unknown";
}

Packing packing_of(const PlanFile& plan, const EncryptedFile& file) {
    if (file.kind == FileKind::training_rows || file.kind == FileKind::model)
        return plan.plan.packing;
    return Packing::make(static_cast<std::size_t>(file.rows), plan.plan.packing.features,
                         plan.plan.packing.slots);
}

namespace {

void check_counts(const PlanFile& plan, const EncryptedFile& f, const std::string& what) {
    const Packing& pk = plan.plan.packing;
    switch (f.kind) {
        case FileKind::training_rows:
            if (f.rows != pk.rows)
                fail(
                    what,
                    std::to_string(f.rows) + " rows, the plan trains on " + std::to_string(pk.rows),
                    ErrorCategory::protocol);
            break;
        case FileKind::model:
            if (f.rows != pk.rows)
                fail(what,
                     "made from " + std::to_string(f.rows) + " rows, the plan has " +
                         std::to_string(pk.rows),
                     ErrorCategory::protocol);
            if (f.ciphertexts.size() != 2) fail(what, "a model is two ciphertexts (v, theta)");
            if (f.iterations < 1 || f.iterations > 10'000) fail(what, "iterations out of range");
            return;
        case FileKind::scoring_rows:
        case FileKind::scores:
            if (f.rows == 0 || f.rows > kMaxRows) fail(what, "rows out of range");
            break;
    }
    if (f.iterations != 0) fail(what, "iterations set on rows or scores");
    const std::size_t expected = packing_of(plan, f).ciphertexts;
    if (f.ciphertexts.size() != expected)
        fail(what, std::to_string(f.ciphertexts.size()) + " ciphertexts, " +
                       std::to_string(f.rows) + " rows need " + std::to_string(expected));
}

}  // namespace

std::vector<std::uint8_t> save_encrypted(const PlanFile& plan, const EncryptedFile& file) {
    check_counts(plan, file, kind_name(file.kind));
    math::ByteWriter w;
    w.raw(kCipherMagic, sizeof kCipherMagic);
    w.u16(kFileVersion);
    w.u8(static_cast<std::uint8_t>(file.kind));
    w.u64(plan.context->parameter_hash());
    w.u64(file.rows);
    w.u32(static_cast<std::uint32_t>(plan.plan.packing.features));
    w.u32(file.iterations);
    w.u64(file.ciphertexts.size());
    for (const auto& ct : file.ciphertexts) {
        const auto blob = ckks::save(*plan.context, ct);
        w.u64(blob.size());
        w.raw(blob);
    }
    return w.take();
}

FileKind peek_kind(std::span<const std::uint8_t> bytes) {
    const std::string what = "encrypted file";
    auto r = reader(bytes, what);
    expect_magic(r, kCipherMagic, what);
    const auto kind = r.u8();
    if (kind < 1 || kind > 4) fail(what, "unknown kind " + std::to_string(kind));
    return static_cast<FileKind>(kind);
}

EncryptedFile load_encrypted(const PlanFile& plan, std::span<const std::uint8_t> bytes,
                             FileKind expected) {
    const std::string what = kind_name(expected);
    const FileKind kind = peek_kind(bytes);
    if (kind != expected)
        fail(what, "this file holds " + kind_name(kind) + ", not " + what, ErrorCategory::usage);
    auto r = reader(bytes, what);
    r.bytes(sizeof kCipherMagic + 2 + 1);
    check_hash(plan, r.u64(), what);
    EncryptedFile f;
    f.kind = kind;
    f.rows = r.u64();
    const auto features = r.u32();
    if (features != plan.plan.packing.features)
        fail(what,
             std::to_string(features) + " features, the plan has " +
                 std::to_string(plan.plan.packing.features),
             ErrorCategory::protocol);
    f.iterations = r.u32();
    const auto count = r.u64();
    if (count > (std::uint64_t{1} << 24)) fail(what, "too many ciphertexts");
    // Each ciphertext needs at least its 8-byte length and a ckks header.
    if (count * (8 + ckks::kHeaderSize) > r.remaining())
        fail(what, "truncated: " + std::to_string(count) + " ciphertexts announced, " +
                       std::to_string(r.remaining()) + " bytes left");
    f.ciphertexts.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
        const auto size = r.u64();
        if (size > r.remaining())
            fail(what, "truncated: ciphertext " + std::to_string(i) + " needs " +
                           std::to_string(size) + " bytes, " + std::to_string(r.remaining()) +
                           " left");
        const auto blob = r.bytes(static_cast<std::size_t>(size));
        f.ciphertexts.push_back(ckks_checked(what + ", ciphertext " + std::to_string(i), [&] {
            return ckks::load_ciphertext(*plan.context, blob);
        }));
        const auto& ct = f.ciphertexts.back();
        if (ct.slots != plan.plan.packing.slots || ct.size() != 2)
            fail(what, "ciphertext " + std::to_string(i) + " has " + std::to_string(ct.slots) +
                           " slots and " + std::to_string(ct.size()) + " polynomials, the plan " +
                           std::to_string(plan.plan.packing.slots) + " and 2");
    }
    r.expect_end();
    check_counts(plan, f, what);
    return f;
}

// ---- client state and plain model (JSON) ----

ClientState ClientState::fit(const Problem& table, double train_fraction, std::uint64_t seed,
                             double clip) {
    if (!(clip > 0)) throw LrError("the clip must be positive");
    ClientState s;
    s.train_fraction = train_fraction;
    s.seed = seed;
    s.clip = clip;
    s.table_rows = table.rows();
    const Split split = split_rows(table, train_fraction, seed);
    s.standardizer = data::Standardizer::fit(split.train.x, table.features);
    return s;
}

Split ClientState::prepare(const Problem& table) const {
    if (table.features != standardizer.mean.size())
        throw LrError("the table has " + std::to_string(table.features) +
                          " features, the client's state " +
                          std::to_string(standardizer.mean.size()),
                      ErrorCategory::data);
    if (table.rows() != table_rows)
        throw LrError("the table has " + std::to_string(table.rows()) +
                          " rows, the client's split was made for " + std::to_string(table_rows) +
                          " (give the same CSV as to keygen)",
                      ErrorCategory::data);
    Split s = split_rows(table, train_fraction, seed);
    standardizer.apply(s.train.x, clip);
    if (!s.test.x.empty()) standardizer.apply(s.test.x, clip);
    return s;
}

std::string save_client_state(const ClientState& s) {
    nlohmann::json j;
    j["format"] = "henn-lr-client";
    j["version"] = 1;
    j["features"] = s.standardizer.mean.size();
    j["table_rows"] = s.table_rows;
    j["train_fraction"] = s.train_fraction;
    j["seed"] = s.seed;
    j["clip"] = s.clip;
    j["mean"] = s.standardizer.mean;
    j["stddev"] = s.standardizer.stddev;
    return j.dump(2) + "\n";
}

ClientState load_client_state(std::string_view text) {
    const std::string what = "client state";
    const nlohmann::json j = parse_json(text, what, "henn-lr-client");
    ClientState s;
    const std::size_t features = json_size(j, "features", 1, kMaxFeatures, what);
    s.table_rows = json_size(j, "table_rows", 1, kMaxRows, what);
    s.train_fraction = json_number(j, "train_fraction", 0, 1, what);
    if (!(s.train_fraction > 0)) fail(what, "'train_fraction' must be positive");
    s.seed = json_size(j, "seed", 0, std::numeric_limits<std::uint64_t>::max(), what);
    s.clip = json_number(j, "clip", 1e-9, std::numeric_limits<double>::infinity(), what);
    s.standardizer = standardizer_from(j, features, what);
    return s;
}

Problem PlainModel::standardize(const Problem& raw) const {
    if (raw.features + 1 != model.weights.size())
        throw LrError("the rows have " + std::to_string(raw.features) + " features, the model " +
                          std::to_string(model.weights.size() - 1),
                      ErrorCategory::data);
    Problem p = raw;
    standardizer.apply(p.x, clip);
    return p;
}

std::string save_plain_model(const PlainModel& m) {
    nlohmann::json j;
    j["format"] = "henn-lr-model";
    j["version"] = 1;
    j["features"] = m.model.weights.size() - 1;
    j["bias"] = m.model.weights.at(0);
    j["weights"] = std::vector<double>(m.model.weights.begin() + 1, m.model.weights.end());
    j["mean"] = m.standardizer.mean;
    j["stddev"] = m.standardizer.stddev;
    j["clip"] = m.clip;
    j["iterations"] = m.iterations;
    j["optimizer"] = m.optimizer;
    j["sigmoid"] = m.sigmoid;
    j["note"] =
        "score = bias + weights . clip((x - mean) / stddev); probability = 1 / (1 + e^-score)";
    return j.dump(2) + "\n";
}

PlainModel load_plain_model(std::string_view text) {
    const std::string what = "model";
    const nlohmann::json j = parse_json(text, what, "henn-lr-model");
    PlainModel m;
    const std::size_t features = json_size(j, "features", 1, kMaxFeatures, what);
    m.model.weights.push_back(json_number(j, "bias", -1e300, 1e300, what));
    for (double w : json_vector(j, "weights", features, what)) m.model.weights.push_back(w);
    m.standardizer = standardizer_from(j, features, what);
    m.clip = json_number(j, "clip", 1e-9, std::numeric_limits<double>::infinity(), what);
    if (j.contains("iterations") && j["iterations"].is_number_integer())
        m.iterations = j["iterations"].get<int>();
    if (j.contains("optimizer") && j["optimizer"].is_string())
        m.optimizer = j["optimizer"].get<std::string>();
    if (j.contains("sigmoid") && j["sigmoid"].is_string())
        m.sigmoid = j["sigmoid"].get<std::string>();
    return m;
}

}  // namespace henn::lr
