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

// Where the output channels of a convolution go: channel c's output i at offset[c] + base[i],
// reading the input copy copy[c].
struct ChannelPlacement {
    std::vector<std::int64_t> offset;
    std::vector<std::uint32_t> copy;
};

// Offsets for the output channels of linear stage `l` (inputs at `input_slot`, in copies at
// `copies`) that share diagonals: a diagonal is a rotation and an encoded plaintext, and channels
// placed at unrelated offsets give every (input channel, output channel, tap) its own. Each
// channel goes where, reading the copy that suits it, it adds the fewest diagonals not already
// needed (then the lowest offset, then the first copy), within the power-of-two span the compact
// placement and the copies need, so the region never grows. A channel at the same offset from its
// copy as another from its own adds none.
ChannelPlacement place_channels(const LinearStage& l, const std::vector<std::int64_t>& input_slot,
                                const std::vector<std::int64_t>& copies,
                                const std::vector<std::int64_t>& base, std::int64_t channels,
                                std::int64_t slots, const std::string& stage) {
    ChannelPlacement compact;
    compact.offset = place_channels_compactly(base, channels, slots, stage);
    compact.copy.assign(static_cast<std::size_t>(channels), 0);
    const std::int64_t span = *std::max_element(base.begin(), base.end());
    std::int64_t footprint =
        *std::max_element(compact.offset.begin(), compact.offset.end()) + span + 1;
    for (std::int64_t s : input_slot) footprint = std::max(footprint, copies.back() + s + 1);
    const std::int64_t limit = std::min(slots, next_power_of_two(footprint));
    const auto per_channel = static_cast<std::int64_t>(base.size());
    if (channels * per_channel != l.outputs) return compact;

    std::vector<char> used(static_cast<std::size_t>(slots), 0);
    std::vector<char> needed(static_cast<std::size_t>(slots), 0);  // diagonals so far
    ChannelPlacement placed;
    for (std::int64_t c = 0; c < channels; ++c) {
        // The channel's diagonals relative to its offset from copy 0: input slot minus output
        // position.
        std::vector<std::int64_t> relative;
        for (std::int64_t i = 0; i < per_channel; ++i) {
            const std::int64_t r = c * per_channel + i;
            for (std::size_t e = l.row_begin[r]; e < l.row_begin[r + 1]; ++e)
                relative.push_back(input_slot[l.column[e]] - base[i]);
        }
        std::sort(relative.begin(), relative.end());
        relative.erase(std::unique(relative.begin(), relative.end()), relative.end());
        std::int64_t best = -1, best_new = 0;
        std::uint32_t best_copy = 0;
        for (std::int64_t o = 0; o + span < limit && !(best >= 0 && best_new == 0); ++o) {
            int free = -1;  // unknown
            for (std::size_t j = 0; j < copies.size(); ++j) {
                std::int64_t added = 0;
                for (std::int64_t d : relative) {
                    added +=
                        needed[static_cast<std::size_t>(mod(d + copies[j] - o, slots))] ? 0 : 1;
                    if (best >= 0 && added >= best_new) break;
                }
                if (best >= 0 && added >= best_new) continue;
                if (free < 0) free = all_free(used, o, base) ? 1 : 0;
                if (!free) break;
                best = o;
                best_new = added;
                best_copy = static_cast<std::uint32_t>(j);
                if (added == 0) break;
            }
        }
        if (best < 0) return compact;  // the greedy choice boxed itself in
        for (std::int64_t b : base) used[static_cast<std::size_t>(best + b)] = 1;
        for (std::int64_t d : relative)
            needed[static_cast<std::size_t>(mod(d + copies[best_copy] - best, slots))] = 1;
        placed.offset.push_back(best);
        placed.copy.push_back(best_copy);
    }
    return placed;
}

// Per output of stage `stage`, the offset of the input copy it reads (empty: all copy 0).
std::vector<std::int64_t> input_shift(const LatencyLayout& layout, std::size_t stage) {
    std::vector<std::int64_t> shift;
    for (std::uint32_t j : layout.stages[stage].input_copy) shift.push_back(layout.input_copies[j]);
    return shift;
}

// Blocks of `m` slots a folded stage's rotate-and-sum adds: those from the region's start up to
// its last input (the products are zero beyond it), rounded up to a power of two. Output r is
// then right at slot r only; no stage reads the other slots.
std::int64_t blocks_to_fold(const std::vector<std::int64_t>& input_slot, std::int64_t m,
                            std::int64_t region) {
    const std::int64_t last = *std::max_element(input_slot.begin(), input_slot.end());
    return std::min(region / m, next_power_of_two(last / m + 1));
}

// The diagonal indices of a stage: the fold block `m` (region for direct) or explicit output
// slots; output r reads its inputs `shift[r]` slots further (no shift when empty).
std::vector<std::size_t> diagonal_indices(const LinearStage& l,
                                          const std::vector<std::int64_t>& input_slot,
                                          const std::vector<std::int64_t>* output_slot,
                                          std::int64_t m, std::int64_t slots,
                                          const std::vector<std::int64_t>& shift = {}) {
    std::set<std::size_t> ks;
    for (std::int64_t r = 0; r < l.outputs; ++r) {
        const std::int64_t out = output_slot ? (*output_slot)[r] : r;
        const std::int64_t offset = shift.empty() ? 0 : shift[static_cast<std::size_t>(r)];
        for (std::size_t e = l.row_begin[r]; e < l.row_begin[r + 1]; ++e) {
            const std::int64_t in = input_slot[l.column[e]] + offset;
            const std::int64_t k = output_slot ? in - out : (in % m) - out;
            ks.insert(static_cast<std::size_t>(mod(k, slots)));
        }
    }
    return {ks.begin(), ks.end()};
}

}  // namespace

namespace {

// What one key switch costs at `level` in the BSGS cost model's units.
double rotation_cost(const ckks::Context& ctx, int level, std::int64_t slots) {
    const std::vector<std::size_t> one{1}, zero{0};
    return circuits::plan_bsgs_with_baby(ctx, level, one, static_cast<std::size_t>(slots), 1).cost -
           circuits::plan_bsgs_with_baby(ctx, level, zero, static_cast<std::size_t>(slots), 1).cost;
}

// The diagonal indices of linear stage `i` of a planned layout.
std::vector<std::size_t> stage_diagonal_indices(const LatencyLayout& layout, const LinearStage& l,
                                                std::size_t i, std::int64_t slots) {
    const auto& input_slot = i == 0 ? layout.input_slot : layout.slots_after(i - 1);
    const auto& st = layout.stages[i];
    return st.fold
               ? diagonal_indices(l, input_slot, nullptr, st.fold, slots)
               : diagonal_indices(l, input_slot, &st.output_slot, 0, slots, input_shift(layout, i));
}

// The cost model's estimate of one ciphertext through the linear stages of a layout.
double layout_cost(const LatencyLayout& layout, const std::vector<StagePlan>& stages,
                   const ckks::Context& ctx) {
    const auto slots = static_cast<std::int64_t>(ctx.max_slots());
    double cost = 0;
    for (std::size_t i = 0; i < stages.size(); ++i) {
        const auto* l = std::get_if<LinearStage>(&stages[i].op);
        if (!l) continue;
        const auto idx = stage_diagonal_indices(layout, *l, i, slots);
        circuits::BsgsCostModel model;
        model.grid_splits = true;  // as the program's transforms (CompiledModel::finish_latency)
        cost += circuits::plan_bsgs(ctx, stages[i].level_in, idx, static_cast<std::size_t>(slots),
                                    model)
                    .cost;
        if (layout.stages[i].fold) {
            cost += static_cast<double>(
                        std::countr_zero(static_cast<std::uint64_t>(fold_blocks(layout, i)))) *
                    rotation_cost(ctx, stages[i].level_out, slots);
        }
    }
    return cost;
}

// The layout with the input in `copies` copies. `first_channels`, when given, receives the output
// channel count of a first stage that is a convolution (0 otherwise): the most copies that help.
LatencyLayout plan_layout(const nn::Model& model, const std::vector<StagePlan>& stages,
                          const ckks::Context& ctx, bool naive_diagonals, std::int64_t copies,
                          std::int64_t* first_channels) {
    const auto slots = static_cast<std::int64_t>(ctx.max_slots());
    std::int64_t conv_channels = 0;  // of a first stage that is a convolution
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
    if (copies < 1 || (copies - 1) * input_size + input_size > slots) {
        throw CompileError(std::to_string(copies) + " copies of the input's " +
                           std::to_string(input_size) + " values do not fit " +
                           std::to_string(slots) + " slots");
    }
    layout.input_copies.clear();
    for (std::int64_t j = 0; j < copies; ++j) layout.input_copies.push_back(j * input_size);

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
            // Only the first stage reads the input, so only it can use the copies.
            const std::vector<std::int64_t> copy_zero{0};
            const ChannelPlacement channels =
                place_channels(l, current.slot, k == 0 ? layout.input_copies : copy_zero, base,
                               s[0], slots, stages[k].name);
            out.channel_offset = channels.offset;
            for (std::int64_t c = 0; c < s[0]; ++c) {
                for (std::int64_t b : base) out.slot.push_back(out.channel_offset[c] + b);
            }
            if (k == 0) {
                conv_channels = s[0];
                // Copies no channel reads are not sent.
                const std::uint32_t last =
                    *std::max_element(channels.copy.begin(), channels.copy.end());
                layout.input_copies.resize(last + 1);
                if (last > 0) {
                    for (std::int64_t c = 0; c < s[0]; ++c) {
                        layout.stages[0].input_copy.insert(layout.stages[0].input_copy.end(),
                                                           base.size(), channels.copy[c]);
                    }
                }
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
    if (copies > 1 && conv_channels == 0) {
        throw CompileError("copies of the input help only a first stage that is a convolution");
    }
    if (first_channels) *first_channels = conv_channels;

    // The region: every placed slot, every copy of the input and every compact output inside it.
    std::int64_t footprint = layout.input_copies.back() + input_size;
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
        const int level = stages[i].level_in;
        const double rotation = rotation_cost(ctx, stages[i].level_out, slots);
        double best_cost = 0;
        std::int64_t best = 0;
        for (std::int64_t m = next_power_of_two(l.outputs); m <= layout.region; m *= 2) {
            const auto idx = diagonal_indices(l, input_slot, nullptr, m, slots);
            double cost =
                circuits::plan_bsgs(ctx, level, idx, static_cast<std::size_t>(slots)).cost;
            cost += static_cast<double>(std::countr_zero(
                        static_cast<std::uint64_t>(blocks_to_fold(input_slot, m, layout.region)))) *
                    rotation;
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
        const std::size_t diagonals = stage_diagonal_indices(layout, *l, i, slots).size();
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

}  // namespace

LatencyLayout plan_latency_layout(const nn::Model& model, const std::vector<StagePlan>& stages,
                                  const ckks::Context& ctx, bool naive_diagonals,
                                  int input_copies) {
    if (input_copies < 0) throw InvalidArgument("latency packing: a negative number of copies");
    if (input_copies > 0) {
        std::int64_t channels = 0;
        LatencyLayout layout =
            plan_layout(model, stages, ctx, naive_diagonals, input_copies, &channels);
        if (input_copies > 1 && input_copies > channels) {
            throw CompileError(std::to_string(input_copies) +
                               " copies of the input: the first convolution has " +
                               std::to_string(channels) + " output channels to read them");
        }
        return layout;
    }
    // Chosen: the fewest key switches and plaintext products per ciphertext; within 2% of that,
    // more samples per ciphertext, then fewer copies.
    std::int64_t channels = 0;
    LatencyLayout best = plan_layout(model, stages, ctx, naive_diagonals, 1, &channels);
    double best_cost = layout_cost(best, stages, ctx);
    const auto slots = static_cast<std::int64_t>(ctx.max_slots());
    const std::int64_t input_size = nn::shape_size(model.input_shape());
    const std::int64_t most = std::min({channels, slots / input_size, std::int64_t{16}});
    for (std::int64_t copies = 2; copies <= most; ++copies) {
        LatencyLayout candidate;
        try {
            candidate = plan_layout(model, stages, ctx, naive_diagonals, copies, nullptr);
        } catch (const CompileError&) {
            continue;  // does not fit: fewer copies did
        }
        if (static_cast<std::int64_t>(candidate.input_copies.size()) < copies) continue;  // seen
        const double cost = layout_cost(candidate, stages, ctx);
        const bool cheaper = cost < 0.98 * best_cost;
        const bool as_cheap_more_samples =
            cost <= 1.02 * best_cost && candidate.samples > best.samples;
        if (cheaper || as_cheap_more_samples) {
            best = std::move(candidate);
            best_cost = cost;
        }
    }
    return best;
}

circuits::Diagonals latency_diagonals(const LatencyLayout& layout, const LinearStage& l,
                                      std::size_t stage, std::int64_t slots,
                                      std::size_t max_diagonals) {
    const std::size_t count = stage_diagonal_indices(layout, l, stage, slots).size();
    if (count > max_diagonals) {
        throw FormatError("latency layout: a stage needs " + std::to_string(count) +
                          " diagonals, more than the " + std::to_string(max_diagonals) +
                          " that fit the memory limit");
    }
    const auto& input_slot = stage == 0 ? layout.input_slot : layout.slots_after(stage - 1);
    const LatencyStageLayout& st = layout.stages[stage];
    const std::vector<std::int64_t> shift = input_shift(layout, stage);
    const std::int64_t region = layout.region;
    circuits::Diagonals d;
    d.slots = static_cast<std::size_t>(slots);
    const std::int64_t m = st.fold;
    for (std::int64_t r = 0; r < l.outputs; ++r) {
        const std::int64_t offset = shift.empty() ? 0 : shift[static_cast<std::size_t>(r)];
        for (std::size_t e = l.row_begin[r]; e < l.row_begin[r + 1]; ++e) {
            const std::int64_t in = input_slot[l.column[e]] + offset;
            // Folded: output r's inputs of block b add up at slot r + m b, the rotate-and-sum joins
            // them.
            const std::int64_t at = m ? r + m * (in / m) : st.output_slot[r];
            const auto k = static_cast<std::size_t>(mod(in - at, slots));
            auto& diag = d.diagonals[k];
            if (diag.empty()) diag.assign(d.slots, 0.0);
            for (std::int64_t s = 0; s < slots / region; ++s)
                diag[static_cast<std::size_t>(at + s * region)] += l.weight[e];
        }
    }
    return d;
}

std::int64_t fold_blocks(const LatencyLayout& layout, std::size_t stage) {
    const std::int64_t m = layout.stages[stage].fold;
    if (m == 0) return 1;
    return blocks_to_fold(stage == 0 ? layout.input_slot : layout.slots_after(stage - 1), m,
                          layout.region);
}

// ---------------------------------------------------------------------------------------------
// Wire form

std::uint16_t latency_layout_version(const LatencyLayout& layout) {
    return layout.input_copies.size() > 1 ? 4 : 3;
}

// Version 4 adds the copies of the input (after the input's slots) and each stage's copy per
// output (after its output slots); a layout without copies keeps the version-3 bytes.
void write_latency_layout(Writer& w, const LatencyLayout& layout) {
    const bool copies = latency_layout_version(layout) >= 4;
    w.i64(layout.region);
    w.i64(layout.samples);
    w.u8(layout.naive_diagonals);
    w.u64(layout.input_slot.size());
    for (auto s : layout.input_slot) w.u32(static_cast<std::uint32_t>(s));
    if (copies) {
        w.u64(layout.input_copies.size());
        for (auto c : layout.input_copies) w.u32(static_cast<std::uint32_t>(c));
    }
    w.u64(layout.stages.size());
    for (const auto& st : layout.stages) {
        w.i64(st.fold);
        w.u64(st.output_slot.size());
        for (auto s : st.output_slot) w.u32(static_cast<std::uint32_t>(s));
        if (copies) {
            w.u64(st.input_copy.size());
            for (auto j : st.input_copy) w.u32(j);
        }
    }
}

LatencyLayout read_latency_layout(Reader& r, const std::vector<StagePlan>& stages,
                                  std::int64_t input_size, std::int64_t slots,
                                  std::uint16_t version) {
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
    if (version >= 4) {
        // Copies at increasing offsets, the first 0, no two values of any copies in one slot.
        const auto n = r.count("input copies", 4, 1 << 16);
        layout.input_copies.resize(n);
        ++mark;
        for (std::size_t j = 0; j < n; ++j) {
            const std::int64_t c = r.u32("copy offset");
            if ((j == 0 && c != 0) || (j > 0 && c <= layout.input_copies[j - 1]))
                r.fail("latency layout: the copies of the input are not in order");
            layout.input_copies[j] = c;
            for (std::int64_t s : layout.input_slot) {
                const std::int64_t at = c + s;
                if (at >= layout.region)
                    r.fail("latency layout: a copy of the input leaves the region");
                if (seen[static_cast<std::size_t>(at)] == mark)
                    r.fail("latency layout: two copies of the input overlap");
                seen[static_cast<std::size_t>(at)] = mark;
            }
        }
    }
    if (r.count("layout stages", 16, 10000) != stages.size())
        r.fail("latency layout: wrong stage count");
    layout.stages.resize(stages.size());
    for (std::size_t k = 0; k < stages.size(); ++k) {
        auto& st = layout.stages[k];
        st.fold = r.i64("fold");
        const auto* l = std::get_if<LinearStage>(&stages[k].op);
        read_slots(st.output_slot, l ? static_cast<std::uint64_t>(l->outputs) : 0,
                   "stage '" + stages[k].name + "'");
        if (version >= 4) {
            const auto n = r.count("input copy indices", 4, 1 << 24);
            // Only the first stage reads the input; it names a copy for every output, unfolded.
            if (n != 0 && (k != 0 || !l || n != static_cast<std::uint64_t>(l->outputs)))
                r.fail("latency layout: stage '" + stages[k].name + "' cannot read input copies");
            st.input_copy.resize(n);
            for (auto& j : st.input_copy) {
                j = r.u32("input copy");
                if (j >= layout.input_copies.size())
                    r.fail("latency layout: stage '" + stages[k].name + "' reads a missing copy");
            }
        }
        if (st.fold != 0) {
            if (!l || st.fold < l->outputs || st.fold >= layout.region ||
                !std::has_single_bit(static_cast<std::uint64_t>(st.fold))) {
                r.fail("latency layout: stage '" + stages[k].name + "' has a bad fold");
            }
            for (std::int64_t i = 0; i < l->outputs; ++i) {
                if (st.output_slot[i] != i)
                    r.fail("latency layout: a folded stage's outputs must be compact");
            }
            if (!st.input_copy.empty())
                r.fail("latency layout: a folded stage cannot read input copies");
        }
    }
    if (version >= 4 && (layout.input_copies.size() < 2 || layout.stages[0].input_copy.empty()))
        r.fail("latency layout: version 4 without copies of the input");
    return layout;
}

}  // namespace detail
}  // namespace henn::engine
