// Latency packing: where every value goes in the slots, the fold of dense stages, and the
// layout's wire form.
#include <algorithm>
#include <bit>
#include <set>
#include <sstream>

#include "henn/engine/errors.hpp"
#include "latency.hpp"
#include "lowering.hpp"

namespace henn::engine {

const std::vector<std::int64_t>& LatencyLayout::slots_after(std::size_t stage) const {
    for (std::size_t k = std::min(stage + 1, stages.size()); k-- > 0;) {
        if (!stages[k].output_slot.empty()) return stages[k].output_slot;
    }
    return input_slot;
}

namespace detail {
namespace {

std::int64_t next_power_of_two(std::int64_t v) {
    return static_cast<std::int64_t>(
        std::bit_ceil(static_cast<std::uint64_t>(std::max<std::int64_t>(v, 1))));
}

std::int64_t mod(std::int64_t a, std::int64_t m) {
    return ((a % m) + m) % m;
}

}  // namespace

// Memory allowed for the encoded diagonals of one linear stage.
extern const double kMaxPlaintextBytes = 2.0 * (1 << 30);

namespace {

// A tensor's placement: slot of every value (C-major order), and for {C, H, W} tensors the
// per-channel offsets and the row and column strides (slot = offset[c] + y * row + x * col).
struct Placement {
    std::vector<std::int64_t> slot;
    bool spatial = false;
    std::vector<std::int64_t> channel_offset;
    std::int64_t row = 0, col = 0;
};

// The layers of one linear stage, as lower() groups them.
struct Run {
    std::string name;
    bool dense = false;
    std::int64_t stride_h = 1, stride_w = 1;
    const nn::Shape* spatial_shape = nullptr;  // output of the last Conv2d/Pool2d
};

// Whether every position offset + base[i] is unused.
bool all_free(const std::vector<char>& used, std::int64_t offset,
              const std::vector<std::int64_t>& base) {
    return std::none_of(base.begin(), base.end(), [&](std::int64_t b) {
        return used[static_cast<std::size_t>(offset + b)] != 0;
    });
}

// Offsets for `channels` copies of `base` (relative slots) in [0, slots), each the smallest that
// keeps every position free: channels fill the gaps a stride leaves.
std::vector<std::int64_t> place_channels_compactly(const std::vector<std::int64_t>& base,
                                                   std::int64_t channels, std::int64_t slots,
                                                   const std::string& stage) {
    std::vector<char> used(static_cast<std::size_t>(slots), 0);
    const std::int64_t span = *std::max_element(base.begin(), base.end());
    std::vector<std::int64_t> offsets;
    for (std::int64_t c = 0; c < channels; ++c) {
        std::int64_t o = 0;
        while (o + span < slots && !all_free(used, o, base)) ++o;
        if (o + span >= slots) {
            std::ostringstream m;
            m << "stage '" << stage << "': " << channels << " output channels of " << base.size()
              << " values with their strides do not fit " << slots << " slots (channel " << c
              << " has no room); a larger ring (--log-n) or batch packing would";
            throw CompileError(m.str());
        }
        for (std::int64_t b : base) used[static_cast<std::size_t>(o + b)] = 1;
        offsets.push_back(o);
    }
    return offsets;
}

// Offsets for the output channels of linear stage `l` (inputs at `input_slot`, channel c's
// output i at offset[c] + base[i]) that share diagonals: a diagonal is a rotation and an encoded
// plaintext, and channels placed at unrelated offsets give every (input channel, output
// channel, tap) its own. Each channel goes where it adds the fewest diagonals not already
// needed (then the lowest offset), within the power-of-two span the compact placement needs, so
// the region never grows.
std::vector<std::int64_t> place_channels(const LinearStage& l,
                                         const std::vector<std::int64_t>& input_slot,
                                         const std::vector<std::int64_t>& base,
                                         std::int64_t channels, std::int64_t slots,
                                         const std::string& stage) {
    const std::vector<std::int64_t> compact =
        place_channels_compactly(base, channels, slots, stage);
    const std::int64_t span = *std::max_element(base.begin(), base.end());
    std::int64_t footprint = *std::max_element(compact.begin(), compact.end()) + span + 1;
    for (std::int64_t s : input_slot) footprint = std::max(footprint, s + 1);
    const std::int64_t limit = std::min(slots, next_power_of_two(footprint));
    const auto per_channel = static_cast<std::int64_t>(base.size());
    if (channels * per_channel != l.outputs) return compact;

    std::vector<char> used(static_cast<std::size_t>(slots), 0);
    std::vector<char> needed(static_cast<std::size_t>(slots), 0);  // diagonals so far
    std::vector<std::int64_t> offsets;
    for (std::int64_t c = 0; c < channels; ++c) {
        // The channel's diagonals relative to its offset: input slot minus output position.
        std::vector<std::int64_t> relative;
        for (std::int64_t i = 0; i < per_channel; ++i) {
            const std::int64_t r = c * per_channel + i;
            for (std::size_t e = l.row_begin[r]; e < l.row_begin[r + 1]; ++e)
                relative.push_back(input_slot[l.column[e]] - base[i]);
        }
        std::sort(relative.begin(), relative.end());
        relative.erase(std::unique(relative.begin(), relative.end()), relative.end());
        std::int64_t best = -1, best_new = 0;
        for (std::int64_t o = 0; o + span < limit; ++o) {
            std::int64_t added = 0;
            for (std::int64_t d : relative) {
                added += needed[static_cast<std::size_t>(mod(d - o, slots))] ? 0 : 1;
                if (best >= 0 && added >= best_new) break;
            }
            if (best >= 0 && added >= best_new) continue;
            if (!all_free(used, o, base)) continue;
            best = o;
            best_new = added;
            if (added == 0) break;
        }
        if (best < 0) return compact;  // the greedy choice boxed itself in
        for (std::int64_t b : base) used[static_cast<std::size_t>(best + b)] = 1;
        for (std::int64_t d : relative) needed[static_cast<std::size_t>(mod(d - best, slots))] = 1;
        offsets.push_back(best);
    }
    return offsets;
}

// The diagonal indices of a stage: the fold block `m` (region for direct) or explicit output slots.
std::vector<std::size_t> diagonal_indices(const LinearStage& l,
                                          const std::vector<std::int64_t>& input_slot,
                                          const std::vector<std::int64_t>* output_slot,
                                          std::int64_t m, std::int64_t slots) {
    std::set<std::size_t> ks;
    for (std::int64_t r = 0; r < l.outputs; ++r) {
        const std::int64_t out = output_slot ? (*output_slot)[r] : r;
        for (std::size_t e = l.row_begin[r]; e < l.row_begin[r + 1]; ++e) {
            const std::int64_t in = input_slot[l.column[e]];
            const std::int64_t k = output_slot ? in - out : (in % m) - out;
            ks.insert(static_cast<std::size_t>(mod(k, slots)));
        }
    }
    return {ks.begin(), ks.end()};
}

}  // namespace

LatencyLayout plan_latency_layout(const nn::Model& model, const std::vector<StagePlan>& stages,
                                  const ckks::Context& ctx, bool naive_diagonals) {
    const auto slots = static_cast<std::int64_t>(ctx.max_slots());
    LatencyLayout layout;
    layout.naive_diagonals = naive_diagonals;
    layout.stages.resize(stages.size());

    // The model's input, row-major, channel after channel.
    Placement current;
    const nn::Shape& in_shape = model.input_shape();
    const std::int64_t input_size = nn::shape_size(in_shape);
    if (input_size > slots) {
        throw CompileError("the input's " + std::to_string(input_size) + " values do not fit " +
                           std::to_string(slots) + " slots");
    }
    current.slot.resize(static_cast<std::size_t>(input_size));
    for (std::int64_t i = 0; i < input_size; ++i) current.slot[i] = i;
    if (in_shape.size() == 3) {
        current.spatial = true;
        current.row = in_shape[2];
        current.col = 1;
        for (std::int64_t c = 0; c < in_shape[0]; ++c)
            current.channel_offset.push_back(c * in_shape[1] * in_shape[2]);
    }
    layout.input_slot = current.slot;

    // Group the layers into stages exactly as lower() does, and place each stage's outputs.
    std::vector<Run> runs(stages.size());
    std::vector<Placement> placed(stages.size());
    std::vector<char> pending_dense(stages.size(), 0);
    std::size_t k = 0;
    bool open = false;
    auto close_run = [&] {
        if (!open) return;
        open = false;
        if (k >= stages.size() || !std::holds_alternative<LinearStage>(stages[k].op)) {
            throw EngineError(
                "internal: latency planner: the stages do not follow the model's layers");
        }
        const auto& l = std::get<LinearStage>(stages[k].op);
        const Run& run = runs[k];
        Placement out;
        if (run.dense) {
            pending_dense[k] = 1;  // compact or folded, once the region is known
            out.slot.resize(static_cast<std::size_t>(l.outputs));
            for (std::int64_t r = 0; r < l.outputs; ++r) out.slot[r] = r;
        } else if (run.spatial_shape) {
            if (!current.spatial) {
                throw CompileError("stage '" + stages[k].name +
                                   "': a convolution or pool on values with no image layout");
            }
            const nn::Shape& s = *run.spatial_shape;
            out.spatial = true;
            out.row = current.row * run.stride_h;
            out.col = current.col * run.stride_w;
            std::vector<std::int64_t> base;
            for (std::int64_t y = 0; y < s[1]; ++y) {
                for (std::int64_t x = 0; x < s[2]; ++x) base.push_back(y * out.row + x * out.col);
            }
            // Padding can make the output wider than the strided input rows: then its rows would
            // overlap, and the outputs go row-major instead (more diagonals, same result).
            std::vector<std::int64_t> sorted = base;
            std::sort(sorted.begin(), sorted.end());
            if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
                out.row = s[2];
                out.col = 1;
                for (std::int64_t y = 0, i = 0; y < s[1]; ++y) {
                    for (std::int64_t x = 0; x < s[2]; ++x)
                        base[static_cast<std::size_t>(i++)] = y * out.row + x;
                }
            }
            out.channel_offset = place_channels(l, current.slot, base, s[0], slots, stages[k].name);
            for (std::int64_t c = 0; c < s[0]; ++c) {
                for (std::int64_t b : base) out.slot.push_back(out.channel_offset[c] + b);
            }
        } else {
            out = current;  // element-wise only: values stay in place
        }
        if (static_cast<std::int64_t>(out.slot.size()) != l.outputs) {
            throw EngineError("internal: latency planner: stage '" + stages[k].name + "' has " +
                              std::to_string(l.outputs) + " outputs, the layout " +
                              std::to_string(out.slot.size()));
        }
        layout.stages[k].output_slot = out.slot;
        placed[k] = out;
        current = std::move(out);
        ++k;
    };
    for (const nn::Layer& layer : model.layers()) {
        const auto& op = layer.op;
        if (const auto* poly = std::get_if<nn::Polynomial>(&op); poly && poly->degree() >= 2) {
            close_run();
            if (k >= stages.size() || !std::holds_alternative<ActivationStage>(stages[k].op)) {
                throw EngineError(
                    "internal: latency planner: the stages do not follow the model's layers");
            }
            ++k;  // element-wise on every slot: nothing moves
            continue;
        }
        if (std::holds_alternative<nn::Flatten>(op))
            continue;  // free: the next matrix reads the slots in place
        if (!open) {
            open = true;
            if (k < runs.size()) runs[k] = Run{};
        }
        if (k >= runs.size())
            throw EngineError("internal: latency planner: more stages than lowered");
        Run& run = runs[k];
        if (std::holds_alternative<nn::Dense>(op)) run.dense = true;
        if (const auto* c = std::get_if<nn::Conv2d>(&op)) {
            run.stride_h *= c->stride_h;
            run.stride_w *= c->stride_w;
            run.spatial_shape = &layer.output_shape;
            if (run.dense)
                throw CompileError("layer '" + layer.name + "': a convolution after a dense layer");
        } else if (const auto* p = std::get_if<nn::Pool2d>(&op)) {
            run.stride_h *= p->stride_h;
            run.stride_w *= p->stride_w;
            run.spatial_shape = &layer.output_shape;
            if (run.dense)
                throw CompileError("layer '" + layer.name + "': a pool after a dense layer");
        }
    }
    close_run();
    if (k != stages.size())
        throw EngineError("internal: latency planner: the stages do not follow the model's layers");

    // The region: every placed slot and every compact output inside it.
    std::int64_t footprint = input_size;
    for (std::size_t i = 0; i < stages.size(); ++i) {
        for (std::int64_t s : layout.stages[i].output_slot) footprint = std::max(footprint, s + 1);
    }
    layout.region = next_power_of_two(footprint);
    if (layout.region > slots) {
        std::string widest;
        for (std::size_t i = 0; i < stages.size(); ++i) {
            const auto& o = layout.stages[i].output_slot;
            if (!o.empty() && *std::max_element(o.begin(), o.end()) + 1 == footprint)
                widest = stages[i].name;
        }
        throw CompileError("stage '" + widest + "': its outputs need " + std::to_string(footprint) +
                           " slots, " + std::to_string(slots) + " are available");
    }
    layout.samples = slots / layout.region;

    // Dense stages: direct or folded, whichever the BSGS cost model finds cheaper.
    for (std::size_t i = 0; i < stages.size(); ++i) {
        if (!pending_dense[i]) continue;
        const auto& l = std::get<LinearStage>(stages[i].op);
        const std::vector<std::int64_t>& input_slot =
            i == 0 ? layout.input_slot : layout.slots_after(i - 1);
        const int level = stages[i].level_in, level_out = stages[i].level_out;
        const std::vector<std::size_t> one{1}, zero{0};
        const double rotation_cost =
            circuits::plan_bsgs_with_baby(ctx, level_out, one, static_cast<std::size_t>(slots), 1)
                .cost -
            circuits::plan_bsgs_with_baby(ctx, level_out, zero, static_cast<std::size_t>(slots), 1)
                .cost;
        double best_cost = 0;
        std::int64_t best = 0;
        for (std::int64_t m = next_power_of_two(l.outputs); m <= layout.region; m *= 2) {
            const auto idx = diagonal_indices(l, input_slot, nullptr, m, slots);
            double cost =
                circuits::plan_bsgs(ctx, level, idx, static_cast<std::size_t>(slots)).cost;
            cost += static_cast<double>(
                        std::countr_zero(static_cast<std::uint64_t>(layout.region / m))) *
                    rotation_cost;
            if (best == 0 || cost < best_cost) {
                best = m;
                best_cost = cost;
            }
        }
        layout.stages[i].fold = best == layout.region ? 0 : best;
    }

    // Every diagonal is kept encoded over Q_level * P: refuse programs whose diagonals would not
    // fit in memory, naming the stage.
    for (std::size_t i = 0; i < stages.size(); ++i) {
        const auto* l = std::get_if<LinearStage>(&stages[i].op);
        if (!l) continue;
        const auto& input_slot = i == 0 ? layout.input_slot : layout.slots_after(i - 1);
        const auto& st = layout.stages[i];
        const std::size_t diagonals =
            st.fold ? diagonal_indices(*l, input_slot, nullptr, st.fold, slots).size()
                    : diagonal_indices(*l, input_slot, &st.output_slot, 0, slots).size();
        const double bytes = static_cast<double>(diagonals) *
                             static_cast<double>(stages[i].level_in + 1 + ctx.p_count()) *
                             static_cast<double>(ctx.n()) * 8.0;
        if (bytes > kMaxPlaintextBytes) {
            std::ostringstream m;
            m << "stage '" << stages[i].name << "': " << diagonals << " diagonals need "
              << bytes / (1 << 30) << " GiB of encoded plaintexts in latency packing (limit "
              << kMaxPlaintextBytes / (1 << 30) << " GiB); use batch packing";
            throw CompileError(m.str());
        }
    }
    return layout;
}

circuits::Diagonals latency_diagonals(const LinearStage& l,
                                      const std::vector<std::int64_t>& input_slot,
                                      const LatencyStageLayout& layout, std::int64_t region,
                                      std::int64_t slots, std::size_t max_diagonals) {
    const std::size_t count =
        layout.fold ? diagonal_indices(l, input_slot, nullptr, layout.fold, slots).size()
                    : diagonal_indices(l, input_slot, &layout.output_slot, 0, slots).size();
    if (count > max_diagonals) {
        throw FormatError("latency layout: a stage needs " + std::to_string(count) +
                          " diagonals, more than the " + std::to_string(max_diagonals) +
                          " that fit the memory limit");
    }
    circuits::Diagonals d;
    d.slots = static_cast<std::size_t>(slots);
    const std::int64_t m = layout.fold;
    for (std::int64_t r = 0; r < l.outputs; ++r) {
        for (std::size_t e = l.row_begin[r]; e < l.row_begin[r + 1]; ++e) {
            const std::int64_t in = input_slot[l.column[e]];
            // Folded: output r's inputs of block b add up at slot r + m b, the rotate-and-sum joins
            // them.
            const std::int64_t at = m ? r + m * (in / m) : layout.output_slot[r];
            const auto k = static_cast<std::size_t>(mod(in - at, slots));
            auto& diag = d.diagonals[k];
            if (diag.empty()) diag.assign(d.slots, 0.0);
            for (std::int64_t s = 0; s < slots / region; ++s)
                diag[static_cast<std::size_t>(at + s * region)] += l.weight[e];
        }
    }
    return d;
}

// ---------------------------------------------------------------------------------------------
// Wire form

void write_latency_layout(Writer& w, const LatencyLayout& layout) {
    w.i64(layout.region);
    w.i64(layout.samples);
    w.u8(layout.naive_diagonals);
    w.u64(layout.input_slot.size());
    for (auto s : layout.input_slot) w.u32(static_cast<std::uint32_t>(s));
    w.u64(layout.stages.size());
    for (const auto& st : layout.stages) {
        w.i64(st.fold);
        w.u64(st.output_slot.size());
        for (auto s : st.output_slot) w.u32(static_cast<std::uint32_t>(s));
    }
}

LatencyLayout read_latency_layout(Reader& r, const std::vector<StagePlan>& stages,
                                  std::int64_t input_size, std::int64_t slots) {
    LatencyLayout layout;
    layout.region = r.i64("region");
    layout.samples = r.i64("samples per ciphertext");
    if (layout.region <= 0 || layout.region > slots ||
        !std::has_single_bit(static_cast<std::uint64_t>(layout.region)) ||
        layout.samples != slots / layout.region) {
        r.fail("latency layout: bad region or sample count");
    }
    layout.naive_diagonals = r.u8("method") != 0;
    std::vector<std::uint32_t> seen(static_cast<std::size_t>(layout.region), 0);
    std::uint32_t mark = 0;
    auto read_slots = [&](std::vector<std::int64_t>& out, std::uint64_t expected,
                          const std::string& what) {
        const auto n = r.count("slots", 4, 1 << 24);
        if (n != expected)
            r.fail("latency layout: " + what + " has " + std::to_string(n) + " slots, expected " +
                   std::to_string(expected));
        ++mark;
        out.resize(n);
        for (auto& s : out) {
            s = r.u32("slot");
            if (s >= layout.region) r.fail("latency layout: " + what + ": slot out of the region");
            if (seen[static_cast<std::size_t>(s)] == mark)
                r.fail("latency layout: " + what + ": two values in one slot");
            seen[static_cast<std::size_t>(s)] = mark;
        }
    };
    read_slots(layout.input_slot, static_cast<std::uint64_t>(input_size), "the input");
    if (r.count("layout stages", 16, 10000) != stages.size())
        r.fail("latency layout: wrong stage count");
    layout.stages.resize(stages.size());
    for (std::size_t k = 0; k < stages.size(); ++k) {
        auto& st = layout.stages[k];
        st.fold = r.i64("fold");
        const auto* l = std::get_if<LinearStage>(&stages[k].op);
        read_slots(st.output_slot, l ? static_cast<std::uint64_t>(l->outputs) : 0,
                   "stage '" + stages[k].name + "'");
        if (st.fold != 0) {
            if (!l || st.fold < l->outputs || st.fold >= layout.region ||
                !std::has_single_bit(static_cast<std::uint64_t>(st.fold))) {
                r.fail("latency layout: stage '" + stages[k].name + "' has a bad fold");
            }
            for (std::int64_t i = 0; i < l->outputs; ++i) {
                if (st.output_slot[i] != i)
                    r.fail("latency layout: a folded stage's outputs must be compact");
            }
        }
    }
    return layout;
}

}  // namespace detail
}  // namespace henn::engine
