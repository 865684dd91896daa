#include "henn/engine/compiled_model.hpp"
#include "henn/engine/latency.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "henn/ckks/errors.hpp"
#include "henn/ckks/matrix_product.hpp"
#include "henn/ckks/objects.hpp"
#include "henn/ckks/serialization.hpp"
#include "henn/math/ntt.hpp"
#include "latency.hpp"
#include "lowering.hpp"
#include "planning.hpp"
#include "wire.hpp"

namespace henn::engine {

std::string to_string(Packing packing) {
    switch (packing) {
        case Packing::batch:
            return "batch";
        case Packing::latency:
            return "latency";
    }
    return "?";
}

std::string to_string(SlotPacking packing) {
    switch (packing) {
        case SlotPacking::automatic:
            return "auto";
        case SlotPacking::real:
            return "real";
        case SlotPacking::complex:
            return "complex";
    }
    return "?";
}

namespace detail {
std::uint64_t content_hash(std::span<const std::uint8_t> bytes) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1 ||
        length < 8) {
        throw InternalError("SHA-256 failed");
    }
    std::uint64_t h = 0;
    for (int i = 7; i >= 0; --i) h = (h << 8) | digest[i];
    return h;
}
}  // namespace detail

CompiledModel::CompiledModel() = default;
CompiledModel::~CompiledModel() = default;

std::int64_t CompiledModel::batch_size() const {
    const auto slots = static_cast<std::int64_t>(context_->max_slots());
    if (latency_layout_) return latency_layout_->samples;
    return slot_packing_ == SlotPacking::complex ? 2 * slots : slots;
}

int CompiledModel::depth() const {
    int d = 0;
    for (const auto& s : stages_) d += s.depth;
    return d;
}

const ckks::ConstantMatrix& CompiledModel::matrix(std::size_t stage) const {
    if (stage >= matrices_.size() || !matrices_[stage])
        throw InternalError("stage " + std::to_string(stage) + " is not linear");
    return *matrices_[stage];
}

const ckks::ConstantMatrix* CompiledModel::column_block(std::size_t stage,
                                                        std::size_t block) const {
    if (stage >= column_blocks_.size() || block >= column_blocks_[stage].size()) return nullptr;
    return column_blocks_[stage][block].get();
}

const ckks::Ciphertext* CompiledModel::bias_input(std::size_t stage) const {
    return stage < bias_inputs_.size() ? bias_inputs_[stage].get() : nullptr;
}

// Splits the stage's prepared rows into blocks of kStreamColumns columns (the bias column goes
// with the last block, as its last column).
void CompiledModel::prepare_column_blocks(std::size_t k, std::span<const std::size_t> rows,
                                          std::span<const std::uint32_t> columns,
                                          std::span<const double> values, bool has_bias,
                                          double constant_scale) {
    const auto& l = std::get<LinearStage>(stages_[k].op);
    const auto width = static_cast<std::size_t>(kStreamColumns);
    const std::size_t inputs = static_cast<std::size_t>(l.inputs);
    const std::size_t blocks = (inputs + width - 1) / width;
    if (blocks < 2) return;  // one block is the whole matrix: nothing to stream
    struct Block {
        std::vector<std::size_t> rows{0};
        std::vector<std::uint32_t> columns;
        std::vector<double> values;
    };
    std::vector<Block> parts(blocks);
    for (std::size_t r = 0; r + 1 < rows.size(); ++r) {
        for (std::size_t e = rows[r]; e < rows[r + 1]; ++e) {
            const std::size_t c = columns[e];
            const std::size_t b = c == inputs ? blocks - 1 : c / width;
            const std::size_t local = c == inputs ? inputs - (blocks - 1) * width : c - b * width;
            parts[b].columns.push_back(static_cast<std::uint32_t>(local));
            parts[b].values.push_back(values[e]);
        }
        for (auto& p : parts) p.rows.push_back(p.columns.size());
    }
    for (std::size_t b = 0; b < blocks; ++b) {
        const std::size_t cols =
            std::min(width, inputs - b * width) + (b + 1 == blocks && has_bias ? 1 : 0);
        column_blocks_[k].push_back(std::make_unique<ckks::ConstantMatrix>(
            context_, stages_[k].level_in, cols, parts[b].rows, parts[b].columns, parts[b].values,
            constant_scale));
    }
}

void CompiledModel::finish() {
    if (packing_ == Packing::latency) {
        finish_latency();
        hash_ = 0;
        hash_ = detail::content_hash(save());
        return;
    }
    const ckks::Context& ctx = *context_;
    const std::size_t n = ctx.n();
    matrices_.clear();
    bias_inputs_.clear();
    column_blocks_.clear();
    column_blocks_.resize(stages_.size());
    for (std::size_t k = 0; k < stages_.size(); ++k) {
        const auto* l = std::get_if<LinearStage>(&stages_[k].op);
        if (!l) {
            matrices_.push_back(nullptr);
            bias_inputs_.push_back(nullptr);
            continue;
        }
        const bool has_bias =
            std::any_of(l->bias.begin(), l->bias.end(), [](double b) { return b != 0.0; });
        // The bias is one more column, multiplying a noiseless encryption of 1.
        std::vector<std::size_t> rows(static_cast<std::size_t>(l->outputs) + 1, 0);
        std::vector<std::uint32_t> columns;
        std::vector<double> values;
        columns.reserve(l->weight.size() + (has_bias ? l->outputs : 0));
        values.reserve(columns.capacity());
        for (std::int64_t r = 0; r < l->outputs; ++r) {
            for (std::size_t e = l->row_begin[r]; e < l->row_begin[r + 1]; ++e) {
                columns.push_back(l->column[e]);
                values.push_back(l->weight[e]);
            }
            if (has_bias && l->bias[r] != 0.0) {
                columns.push_back(static_cast<std::uint32_t>(l->inputs));
                values.push_back(l->bias[r]);
            }
            rows[r + 1] = columns.size();
        }
        const int level = stages_[k].level_in;
        const double q = static_cast<double>(ctx.q()[level].value());
        const double constant_scale =
            detail::linear_constant_scale(q, input_scale_, stages_[k].scale_in);
        matrices_.push_back(std::make_unique<ckks::ConstantMatrix>(
            context_, level, static_cast<std::size_t>(l->inputs) + (has_bias ? 1 : 0), rows,
            columns, values, constant_scale));
        if (k >= 2 && std::holds_alternative<ActivationStage>(stages_[k - 1].op) &&
            std::holds_alternative<LinearStage>(stages_[k - 2].op)) {
            prepare_column_blocks(k, rows, columns, values, has_bias, constant_scale);
        }
        if (!has_bias) {
            bias_inputs_.push_back(nullptr);
            continue;
        }
        auto one = std::make_unique<ckks::Ciphertext>();
        one->level = level;
        one->scale = stages_[k].scale_in;
        one->slots = ctx.max_slots();
        one->parameter_hash = ctx.parameter_hash();
        one->polys.emplace_back(n, level + 1);
        one->polys.emplace_back(n, level + 1);
        const double rounded = std::round(stages_[k].scale_in);
        for (int i = 0; i <= level; ++i) {
            const auto& q = ctx.q()[i];
            const ckks::u64 r = static_cast<ckks::u64>(rounded) % q.value();
            ckks::u64* c0 = one->polys[0].limb(i);
            if (slot_packing_ == SlotPacking::complex) {
                // 1 + X^(N/2) takes the value 1 + i in every slot: 1 for both samples of a slot.
                std::fill(c0, c0 + n, ckks::u64{0});
                c0[0] = r;
                c0[n / 2] = r;
                math::ntt_forward(c0, ctx.ntt(i));
            } else {
                std::fill(c0, c0 + n, r);  // a constant is itself at every root
            }
        }
        bias_inputs_.push_back(std::move(one));
    }
    hash_ = 0;
    hash_ = detail::content_hash(save());
}

std::uint64_t CompiledModel::evaluation_key_bytes() const {
    // Seeded keys: per digit, the b half over q_0..q_level and P (the a half is a seed), each key
    // down to the level make_evaluation_keys stops it at.
    const ckks::Context& ctx = *context_;
    double p_bits = 0;
    for (std::size_t i = 0; i < ctx.p_count(); ++i) p_bits += std::bit_width(ctx.p()[i].value());
    auto key_bytes = [&](int level) {
        if (level < 0 || level > ctx.max_level()) level = ctx.max_level();
        double bits = p_bits;
        for (int i = 0; i <= level; ++i) bits += std::bit_width(ctx.q()[i].value());
        return static_cast<double>(ctx.digit_count(level)) * bits * ctx.n() / 8.0;
    };
    const bool latency = packing_ == Packing::latency;
    const int activation_level = highest_activation_level(*this);
    double total = 0;
    if (keys_.relinearization) total += key_bytes(activation_level);
    if (keys_.conjugation) total += key_bytes(latency ? ctx.max_level() : activation_level);
    for (int step : keys_.rotations) {
        const auto it = keys_.rotation_levels.find(step);
        total += key_bytes(latency && it != keys_.rotation_levels.end() ? it->second : -1);
    }
    return static_cast<std::uint64_t>(total);
}

std::uint64_t CompiledModel::input_bytes_per_batch() const {
    const ckks::Context& ctx = *context_;
    double q_bits = 0;
    for (int i = 0; i <= ctx.max_level(); ++i) q_bits += std::bit_width(ctx.q()[i].value());
    // Secret-key ciphertexts: c0 bit-packed, c1 as a 32-byte seed, plus the blob header.
    const double per_ct = q_bits * ctx.n() / 8.0 + 32 + ckks::kHeaderSize + 16;
    return static_cast<std::uint64_t>(per_ct * static_cast<double>(input_ciphertexts()));
}

std::vector<double> CompiledModel::run_plain(std::span<const double> input,
                                             std::vector<std::vector<double>>* trace) const {
    if (static_cast<std::int64_t>(input.size()) != input_size_) {
        throw FormatError("run_plain: " + std::to_string(input.size()) +
                          " values for an input of " + std::to_string(input_size_));
    }
    std::vector<double> x(input.begin(), input.end());
    for (const auto& s : stages_) {
        x = detail::apply_stage(s, x);
        if (trace) trace->push_back(x);
    }
    return x;
}

std::string CompiledModel::summary() const {
    const ckks::Context& ctx = *context_;
    std::ostringstream o;
    auto it = metadata_.find("name");
    o << "model: " << (it != metadata_.end() ? it->second : std::string("(unnamed)")) << ", input "
      << nn::shape_to_string(input_shape_) << ", " << output_size_ << " outputs\n";
    o << "packing: " << to_string(packing_) << ", " << to_string(slot_packing_) << " slots, "
      << batch_size() << " samples per ciphertext\n";
    o << "parameters: N = 2^" << ctx.log_n() << ", log2(QP) = " << std::fixed
      << std::setprecision(1) << ctx.log_qp() << " (bound "
      << ckks::max_log_qp(ctx.log_n(), ctx.security()) << " for " << ckks::to_string(ctx.security())
      << "), Q = ";
    for (int i = 0; i <= ctx.max_level(); ++i)
        o << (i ? " + " : "") << std::bit_width(ctx.q()[i].value());
    o << " bits, P = ";
    for (std::size_t i = 0; i < ctx.p_count(); ++i)
        o << (i ? " + " : "") << std::bit_width(ctx.p()[i].value());
    o << " bits, input scale 2^" << std::setprecision(0) << std::log2(input_scale_) << "\n";
    if (latency_layout_) {
        o << "latency layout: " << latency_layout_->region << " slots per sample";
        if (latency_layout_->input_copies.size() > 1)
            o << ", the input in " << latency_layout_->input_copies.size() << " copies";
        o << (latency_layout_->naive_diagonals ? ", naive diagonal method (reference)" : "")
          << "\n";
    }
    o << "depth: " << depth() << "; evaluation keys:";
    if (keys_.relinearization) o << " relinearization";
    if (keys_.conjugation) o << " conjugation";
    if (!keys_.rotations.empty()) o << " " << keys_.rotations.size() << " rotations";
    if (!keys_.relinearization && !keys_.conjugation && keys_.rotations.empty()) o << " none";
    o << " (" << std::setprecision(2) << static_cast<double>(evaluation_key_bytes()) / 1048576.0
      << " MiB)\n";
    o << "upload: " << std::setprecision(0)
      << static_cast<double>(input_bytes_per_batch()) / static_cast<double>(batch_size())
      << " bytes per sample (" << std::setprecision(1)
      << static_cast<double>(input_bytes_per_batch()) / 1048576.0 << " MiB per batch of "
      << batch_size() << ")\n";
    o << "expected precision: " << std::setprecision(1) << expected_precision_bits_
      << " bits (noise estimate)\n";
    o << "stages:\n";
    for (std::size_t k = 0; k < stages_.size(); ++k) {
        const auto& s = stages_[k];
        o << "  " << k << "  " << std::left << std::setw(28) << s.name << std::right << " "
          << std::setw(10) << s.kind << "  level " << s.level_in << "->" << s.level_out
          << "  scale 2^" << std::setprecision(2) << std::log2(s.scale_out)
          << "  |out| <= " << std::setprecision(3) << s.max_abs_out << "  " << s.detail << "\n";
    }
    return o.str();
}

// ---------------------------------------------------------------------------------------------
// Serialization

namespace {
constexpr char kMagic[8] = {'H', 'E', 'N', 'N', 'M', 'O', 'D', 'L'};
// Version 2 added latency packing (a layout after the stages), version 3 the relinearization
// policy (a byte after the slot packing); versions 1 and 2 still load (eager relinearization).
// Version 4 added copies of the input to latency layouts, and is written only for a layout that
// has them (detail::latency_layout_version), so other models keep their version-3 bytes.
constexpr std::uint16_t kVersion = 4;
constexpr std::uint64_t kMaxEntries = std::uint64_t{1} << 28;
}  // namespace

std::vector<std::uint8_t> CompiledModel::save() const {
    detail::Writer w;
    w.raw(kMagic, sizeof kMagic);
    w.u16(packing_ == Packing::latency ? detail::latency_layout_version(*latency_layout_) : 3);
    w.u8(static_cast<std::uint8_t>(packing_));
    w.u8(static_cast<std::uint8_t>(slot_packing_));
    w.u8(lazy_relinearization_ ? 1 : 0);
    w.blob(ckks::save_parameters(*context_));
    w.u64(input_shape_.size());
    for (auto d : input_shape_) w.i64(d);
    w.i64(input_size_);
    w.i64(output_size_);
    w.f64(input_scale_);
    w.f64(expected_precision_bits_);
    w.u8(keys_.relinearization);
    w.u8(keys_.conjugation);
    w.u64(metadata_.size());
    for (const auto& [k, v] : metadata_) {
        w.str(k);
        w.str(v);
    }
    w.u64(stages_.size());
    for (const auto& s : stages_) {
        w.str(s.name);
        w.f64(s.max_abs_out);
        w.f64(s.input_min);
        w.f64(s.input_max);
        w.i64(s.level_in);
        w.i64(s.level_out);
        w.f64(s.scale_out);
        if (const auto* l = std::get_if<LinearStage>(&s.op)) {
            w.u8(0);
            w.i64(l->inputs);
            w.i64(l->outputs);
            w.u64(l->row_begin.size());
            for (auto v : l->row_begin) w.u64(v);
            w.u64(l->column.size());
            for (auto v : l->column) w.u32(v);
            for (auto v : l->weight) w.f64(v);
            for (auto v : l->bias) w.f64(v);
        } else {
            const auto& a = std::get<ActivationStage>(s.op);
            w.u8(1);
            w.u64(a.coefficients.size());
            for (double c : a.coefficients) w.f64(c);
            w.f64(a.interval_lo);
            w.f64(a.interval_hi);
            w.i64(a.width);
        }
    }
    if (packing_ == Packing::latency) detail::write_latency_layout(w, *latency_layout_);
    return std::move(w.bytes());
}

std::shared_ptr<const CompiledModel> CompiledModel::load(std::span<const std::uint8_t> bytes) {
    detail::Reader r(bytes, "compiled model");
    r.expect_magic(kMagic, sizeof kMagic);
    const auto version = r.u16("version");
    if (version < 1 || version > kVersion) {
        r.fail("format version " + std::to_string(version) +
               " is not supported (this build reads version " + std::to_string(kVersion) +
               "); recompile the model");
    }
    auto m = std::shared_ptr<CompiledModel>(new CompiledModel());
    const auto packing = r.u8("packing"), slots = r.u8("slot packing");
    if (packing != static_cast<std::uint8_t>(Packing::batch) &&
        (version < 2 || packing != static_cast<std::uint8_t>(Packing::latency))) {
        r.fail("unknown packing " + std::to_string(packing));
    }
    if (slots != static_cast<std::uint8_t>(SlotPacking::real) &&
        slots != static_cast<std::uint8_t>(SlotPacking::complex)) {
        r.fail("unknown slot packing " + std::to_string(slots));
    }
    m->packing_ = static_cast<Packing>(packing);
    m->slot_packing_ = static_cast<SlotPacking>(slots);
    if (version >= 3) {
        const auto lazy = r.u8("relinearization");
        if (lazy > 1) r.fail("unknown relinearization policy " + std::to_string(lazy));
        m->lazy_relinearization_ = lazy == 1;
        if (m->lazy_relinearization_ && m->packing_ != Packing::batch)
            r.fail("lazy relinearization needs batch packing");
    }
    if (m->packing_ == Packing::latency && m->slot_packing_ != SlotPacking::real)
        r.fail("latency packing uses real slots");
    try {
        m->context_ = ckks::load_parameters(r.blob("parameters"));
    } catch (const ckks::Error& e) {
        r.fail(std::string("parameters: ") + e.what());
    }
    const auto rank = r.count("input rank", 8, 8);
    for (std::uint64_t i = 0; i < rank; ++i) {
        const auto d = r.i64("input dimension");
        if (d <= 0 || d > (1 << 24)) r.fail("input dimension out of range");
        m->input_shape_.push_back(d);
    }
    m->input_size_ = r.i64("input size");
    m->output_size_ = r.i64("output size");
    if (rank == 0 || m->input_size_ != nn::shape_size(m->input_shape_) ||
        m->input_size_ > (1 << 24)) {
        r.fail("input size does not match the input shape");
    }
    if (m->output_size_ <= 0 || m->output_size_ > (1 << 24)) r.fail("output size out of range");
    m->input_scale_ = r.f64("input scale");
    m->expected_precision_bits_ = r.f64("expected precision");
    if (!(m->input_scale_ >= 2) || m->input_scale_ > 0x1p60) r.fail("input scale out of range");
    m->keys_.relinearization = r.u8("relinearization flag") != 0;
    m->keys_.conjugation = r.u8("conjugation flag") != 0;
    const auto meta = r.count("metadata entries", 16, 1024);
    for (std::uint64_t i = 0; i < meta; ++i) {
        std::string k = r.str("metadata key");
        m->metadata_[k] = r.str("metadata value");
    }
    const auto stage_count = r.count("stages", 32, 10000);
    if (stage_count == 0) r.fail("no stages");
    std::vector<StagePlan> stored;
    std::int64_t width = m->input_size_;
    for (std::uint64_t k = 0; k < stage_count; ++k) {
        StagePlan s;
        s.name = r.str("stage name", 4096);
        s.max_abs_out = r.f64("bound");
        s.input_min = r.f64("input minimum");
        s.input_max = r.f64("input maximum");
        s.level_in = static_cast<int>(r.i64("level"));
        s.level_out = static_cast<int>(r.i64("level"));
        s.scale_out = r.f64("scale");
        const auto type = r.u8("stage type");
        if (type == 0) {
            LinearStage l;
            l.inputs = r.i64("inputs");
            l.outputs = r.i64("outputs");
            if (l.inputs != width || l.outputs <= 0 || l.outputs > (1 << 24)) {
                r.fail("stage '" + s.name + "' has " + std::to_string(l.inputs) + " inputs where " +
                       std::to_string(width) + " come in");
            }
            const auto rows = r.count("row offsets", 8);
            if (rows != static_cast<std::uint64_t>(l.outputs) + 1)
                r.fail("stage '" + s.name + "': row offsets do not match");
            l.row_begin.resize(rows);
            for (auto& v : l.row_begin) v = r.u64("row offset");
            const auto nnz = r.count("entries", 12, kMaxEntries);
            if (l.row_begin.front() != 0 || l.row_begin.back() != nnz)
                r.fail("stage '" + s.name + "': bad row offsets");
            for (std::size_t i = 0; i + 1 < l.row_begin.size(); ++i) {
                if (l.row_begin[i] > l.row_begin[i + 1])
                    r.fail("stage '" + s.name + "': row offsets decrease");
            }
            l.column.resize(nnz);
            for (auto& c : l.column) {
                c = r.u32("column");
                if (c >= l.inputs) r.fail("stage '" + s.name + "': column out of range");
            }
            l.weight.resize(nnz);
            for (auto& v : l.weight) v = r.f64("weight");
            l.bias.resize(static_cast<std::size_t>(l.outputs));
            for (auto& v : l.bias) v = r.f64("bias");
            width = l.outputs;
            s.kind = "linear";
            s.op = std::move(l);
        } else if (type == 1) {
            ActivationStage a;
            const auto coefficients = r.count("coefficients", 8, 64);
            a.coefficients.resize(coefficients);
            for (auto& c : a.coefficients) c = r.f64("coefficient");
            a.interval_lo = r.f64("interval");
            a.interval_hi = r.f64("interval");
            a.width = r.i64("width");
            if (a.width != width) r.fail("stage '" + s.name + "' has the wrong width");
            if (coefficients < 3 || detail::activation_degree(a) < 2)
                r.fail("stage '" + s.name + "' is not a polynomial of degree >= 2");
            if (a.interval_lo > a.interval_hi)
                r.fail("stage '" + s.name + "' has an empty interval");
            s.kind = "polynomial";
            s.op = std::move(a);
        } else {
            r.fail("unknown stage type " + std::to_string(type));
        }
        stored.push_back(std::move(s));
    }
    if (m->packing_ == Packing::latency) {
        m->latency_layout_ = std::make_shared<LatencyLayout>(detail::read_latency_layout(
            r, stored, m->input_size_, static_cast<std::int64_t>(m->context_->max_slots()),
            version));
    }
    if (!r.done()) r.fail("trailing bytes");
    if (width != m->output_size_) r.fail("the last stage's width does not match the output size");
    // Derived data is recomputed, never trusted: costs, levels and scales must come out as stored.
    try {
        detail::cost_stages(stored, m->slot_packing_, m->lazy_relinearization_);
        std::vector<StagePlan> check = stored;
        detail::simulate(check, *m->context_, m->input_scale_, m->slot_packing_);
        for (std::size_t k = 0; k < stored.size(); ++k) {
            if (check[k].level_in != stored[k].level_in ||
                check[k].level_out != stored[k].level_out ||
                check[k].scale_out != stored[k].scale_out) {
                r.fail("stage '" + stored[k].name +
                       "': stored levels or scales do not follow from the parameters");
            }
        }
        if (check.back().level_out < 0)
            r.fail("the program needs more levels than the parameters have");
        m->stages_ = std::move(check);
    } catch (const CompileError& e) {
        r.fail(e.what());
    } catch (const InvalidArgument& e) {
        r.fail(e.what());
    }
    bool products = false;
    for (const auto& s : m->stages_) products = products || s.ct_multiplications > 0;
    if (m->keys_.relinearization != products ||
        m->keys_.conjugation != (products && m->slot_packing_ == SlotPacking::complex)) {
        r.fail("the key requirements do not follow from the program");
    }
    try {
        m->finish();
    } catch (const ckks::Error& e) {
        r.fail(e.what());
    }
    return m;
}

}  // namespace henn::engine
