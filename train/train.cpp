// The only translation unit that includes libtorch for training: spec -> torch network,
// training loop, and torch network -> IR (BatchNorm folded, dropout dropped).
#include "henn/train/train.hpp"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>

#include "henn/error.hpp"

namespace henn::train {
using namespace henn::data;
using namespace henn::nn;

namespace {

using Clock = std::chrono::steady_clock;
using Type = LayerSpec::Type;

// Any activation of a spec, with optional recording of what it sees (pre-activation values).
struct ActivationImpl : torch::nn::Module {
    ActivationSpec spec;
    Polynomial polynomial;  // for square / poly: the starting coefficients and their metadata
    torch::Tensor coefficients;

    bool recording = false;
    double lo = INFINITY, hi = -INFINITY, sum = 0, sum_squares = 0;
    std::int64_t count = 0, outside = 0;
    std::vector<double> reservoir;
    std::int64_t reservoir_capacity = 0;
    std::mt19937_64 reservoir_rng{12345};

    explicit ActivationImpl(const ActivationSpec& s) : spec(s) {
        if (spec.is_polynomial()) {
            polynomial = std::get<Polynomial>(activation_layer(spec));
            auto c = torch::tensor(polynomial.coefficients, torch::kFloat64).to(torch::kFloat32);
            if (spec.trainable)
                coefficients = register_parameter("coefficients", c);
            else
                coefficients = register_buffer("coefficients", c);
        }
    }

    void record(const torch::Tensor& x) {
        auto flat = x.detach().to(torch::kFloat64).contiguous().view(-1);
        const auto* data = flat.data_ptr<double>();
        const auto n = flat.numel();
        const bool bounded =
            spec.is_polynomial() && polynomial.interval_hi > polynomial.interval_lo;
        for (std::int64_t i = 0; i < n; ++i) {
            const double v = data[i];
            lo = std::min(lo, v);
            hi = std::max(hi, v);
            sum += v;
            sum_squares += v * v;
            if (bounded && (v < polynomial.interval_lo || v > polynomial.interval_hi)) ++outside;
            ++count;
            // Reservoir sampling keeps a uniform sample of everything seen.
            if (static_cast<std::int64_t>(reservoir.size()) < reservoir_capacity) {
                reservoir.push_back(v);
            } else if (reservoir_capacity > 0) {
                const auto j =
                    static_cast<std::int64_t>(reservoir_rng() % static_cast<std::uint64_t>(count));
                if (j < reservoir_capacity) reservoir[static_cast<std::size_t>(j)] = v;
            }
        }
    }

    torch::Tensor forward(const torch::Tensor& x) {
        if (recording) record(x);
        switch (spec.kind) {
            case ActivationSpec::Kind::relu:
                return torch::relu(x);
            case ActivationSpec::Kind::sigmoid:
                return torch::sigmoid(x);
            case ActivationSpec::Kind::tanh:
                return torch::tanh(x);
            default:
                break;
        }
        const auto degree = coefficients.size(0) - 1;
        auto y = coefficients[degree] * torch::ones_like(x);
        for (auto i = degree - 1; i >= 0; --i) y = y * x + coefficients[i];
        return y;
    }
};
TORCH_MODULE(Activation);

struct Network {
    torch::nn::Sequential sequential;
    std::vector<Activation> activations;
};

Network build_network(const NetworkSpec& spec) {
    const auto shapes = spec.infer_shapes();
    Network net;
    Shape current = spec.input_shape;
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
        const auto& l = spec.layers[i];
        switch (l.type) {
            case Type::conv2d:
                net.sequential->push_back(
                    torch::nn::Conv2d(torch::nn::Conv2dOptions(current[0], l.out, l.kernel)
                                          .stride(l.stride)
                                          .padding(l.padding)));
                break;
            case Type::avgpool:
                net.sequential->push_back(
                    torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(l.kernel).stride(l.stride)));
                break;
            case Type::sumpool: {
                const auto k = l.kernel, s = l.stride;
                net.sequential->push_back(torch::nn::Functional([k, s](const torch::Tensor& x) {
                    return torch::avg_pool2d(x, k, s) * static_cast<double>(k * k);
                }));
                break;
            }
            case Type::dense:
                net.sequential->push_back(torch::nn::Linear(current[0], l.out));
                break;
            case Type::flatten:
                net.sequential->push_back(torch::nn::Flatten());
                break;
            case Type::batchnorm:
                if (current.size() == 3)
                    net.sequential->push_back(torch::nn::BatchNorm2d(current[0]));
                else
                    net.sequential->push_back(torch::nn::BatchNorm1d(current[0]));
                break;
            case Type::dropout:
                net.sequential->push_back(torch::nn::Dropout(l.dropout));
                break;
            case Type::activation: {
                Activation act(l.activation.value_or(spec.default_activation));
                net.activations.push_back(act);
                net.sequential->push_back(act);
                break;
            }
        }
        current = shapes[i];
    }
    return net;
}

std::vector<double> to_vector(const torch::Tensor& t) {
    auto c = t.detach().to(torch::kFloat64).contiguous();
    return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::string layer_name(Type type, int index) {
    switch (type) {
        case Type::conv2d:
            return "conv" + std::to_string(index);
        case Type::avgpool:
            return "avgpool" + std::to_string(index);
        case Type::sumpool:
            return "sumpool" + std::to_string(index);
        case Type::dense:
            return "dense" + std::to_string(index);
        case Type::flatten:
            return "flatten" + std::to_string(index);
        case Type::activation:
            return "act" + std::to_string(index);
        default:
            return "layer" + std::to_string(index);
    }
}

// The IR of a (trained) torch network: BatchNorm folded into the layer before it, dropout gone.
Model to_model(const NetworkSpec& spec, const Network& net,
               std::map<std::string, std::string> metadata) {
    std::vector<NamedOp> ops;
    std::map<Type, int> counters;
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
        const auto& l = spec.layers[i];
        const auto module = net.sequential->ptr(i);
        const std::string name = layer_name(l.type, ++counters[l.type]);
        switch (l.type) {
            case Type::conv2d: {
                auto* m = module->as<torch::nn::Conv2dImpl>();
                Conv2d c;
                c.out_channels = m->options.out_channels();
                c.in_channels = m->options.in_channels();
                c.kernel_h = c.kernel_w = l.kernel;
                c.stride_h = c.stride_w = l.stride;
                c.pad_h = c.pad_w = l.padding;
                c.weight = to_vector(m->weight);
                c.bias = to_vector(m->bias);
                ops.push_back({name, c});
                break;
            }
            case Type::avgpool:
            case Type::sumpool: {
                Pool2d p;
                p.kernel_h = p.kernel_w = l.kernel;
                p.stride_h = p.stride_w = l.stride;
                p.scale =
                    l.type == Type::avgpool ? 1.0 / static_cast<double>(l.kernel * l.kernel) : 1.0;
                ops.push_back({name, p});
                break;
            }
            case Type::dense: {
                auto* m = module->as<torch::nn::LinearImpl>();
                Dense d;
                d.in_features = m->options.in_features();
                d.out_features = m->options.out_features();
                d.weight = to_vector(m->weight);
                d.bias = to_vector(m->bias);
                ops.push_back({name, d});
                break;
            }
            case Type::flatten:
                ops.push_back({name, Flatten{}});
                break;
            case Type::batchnorm: {
                torch::Tensor weight, bias, mean, var;
                double eps = 0;
                if (auto* b2 = module->as<torch::nn::BatchNorm2dImpl>()) {
                    weight = b2->weight;
                    bias = b2->bias;
                    mean = b2->running_mean;
                    var = b2->running_var;
                    eps = b2->options.eps();
                } else {
                    auto* b1 = module->as<torch::nn::BatchNorm1dImpl>();
                    weight = b1->weight;
                    bias = b1->bias;
                    mean = b1->running_mean;
                    var = b1->running_var;
                    eps = b1->options.eps();
                }
                fold_batch_norm(ops.back().op, to_vector(weight), to_vector(bias), to_vector(mean),
                                to_vector(var), eps);
                break;
            }
            case Type::dropout:
                break;
            case Type::activation: {
                auto* a = module->as<ActivationImpl>();
                LayerOp op;
                if (a->spec.is_polynomial()) {
                    Polynomial p = a->polynomial;
                    p.coefficients = to_vector(a->coefficients);
                    if (a->spec.trainable) p.method += "+trained";
                    op = p;
                } else {
                    op = activation_layer(a->spec);
                }
                ops.push_back({name, op});
                break;
            }
        }
    }
    return Model(spec.input_shape, std::move(ops), std::move(metadata));
}

torch::Tensor to_tensor(const Dataset& data) {
    std::vector<std::int64_t> sizes{data.count()};
    sizes.insert(sizes.end(), data.sample_shape.begin(), data.sample_shape.end());
    return torch::from_blob(const_cast<float*>(data.features.data()), sizes, torch::kFloat32)
        .clone();
}

// Random small rotations and shifts of a batch of images (bilinear, zero fill).
torch::Tensor augment(const torch::Tensor& images, const TrainOptions& options) {
    const auto n = images.size(0);
    const double max_angle = options.max_rotation_degrees * std::numbers::pi / 180.0;
    auto angle = (torch::rand({n}, torch::kFloat32) * 2 - 1) * max_angle;
    // affine_grid works in [-1, 1] coordinates: a shift of s pixels is 2 s / size.
    auto tx = (torch::rand({n}, torch::kFloat32) * 2 - 1) *
              (2.0 * options.max_shift_pixels / static_cast<double>(images.size(3)));
    auto ty = (torch::rand({n}, torch::kFloat32) * 2 - 1) *
              (2.0 * options.max_shift_pixels / static_cast<double>(images.size(2)));
    auto cos = torch::cos(angle), sin = torch::sin(angle);
    auto theta =
        torch::stack({torch::stack({cos, -sin, tx}, 1), torch::stack({sin, cos, ty}, 1)}, 1);
    auto grid = torch::nn::functional::affine_grid(theta, images.sizes(), false);
    return torch::nn::functional::grid_sample(images, grid,
                                              torch::nn::functional::GridSampleFuncOptions()
                                                  .mode(torch::kBilinear)
                                                  .padding_mode(torch::kZeros)
                                                  .align_corners(false));
}

struct Score {
    double loss = 0, accuracy = 0;
};

Score score(Network& net, const torch::Tensor& x, const torch::Tensor& y, std::int64_t batch_size) {
    torch::NoGradGuard no_grad;
    net.sequential->eval();
    double loss = 0;
    std::int64_t correct = 0;
    const auto n = x.size(0);
    for (std::int64_t start = 0; start < n; start += batch_size) {
        const auto end = std::min(n, start + batch_size);
        auto out = net.sequential->forward(x.slice(0, start, end));
        loss += torch::nn::functional::cross_entropy(
                    out, y.slice(0, start, end),
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
        correct += out.argmax(1).eq(y.slice(0, start, end)).sum().item<std::int64_t>();
    }
    return {n ? loss / static_cast<double>(n) : 0.0,
            n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0};
}

std::vector<std::pair<std::string, torch::Tensor>> snapshot(const Network& net) {
    std::vector<std::pair<std::string, torch::Tensor>> state;
    for (const auto& p : net.sequential->named_parameters())
        state.emplace_back(p.key(), p.value().detach().clone());
    for (const auto& b : net.sequential->named_buffers())
        state.emplace_back(b.key(), b.value().detach().clone());
    return state;
}

void restore(Network& net, const std::vector<std::pair<std::string, torch::Tensor>>& state) {
    torch::NoGradGuard no_grad;
    auto params = net.sequential->named_parameters();
    auto buffers = net.sequential->named_buffers();
    for (const auto& [name, value] : state) {
        if (auto* p = params.find(name))
            p->copy_(value);
        else if (auto* b = buffers.find(name))
            b->copy_(value);
    }
}

std::string activation_names(const NetworkSpec& spec) {
    std::string out;
    for (const auto& l : spec.layers)
        if (l.type == Type::activation) {
            const auto name = to_string(l.activation.value_or(spec.default_activation));
            if (out.find(name) == std::string::npos) out += (out.empty() ? "" : " ") + name;
        }
    return out;
}

}  // namespace

namespace {

void check_training_inputs(const NetworkSpec& spec, const Dataset& train_data,
                           const TrainOptions& options) {
    if (train_data.sample_shape != spec.input_shape)
        throw ModelError("network '" + spec.name + "' expects inputs " +
                         shape_to_string(spec.input_shape) + ", data has " +
                         shape_to_string(train_data.sample_shape));
    if (train_data.num_classes > spec.num_classes)
        throw ModelError("data has " + std::to_string(train_data.num_classes) +
                         " classes, network outputs " + std::to_string(spec.num_classes));
    if (options.epochs < 1 || options.batch_size < 1 || !(options.learning_rate > 0))
        throw InvalidArgument("epochs, batch size and learning rate must be positive");
}

// The learning rate of the schedule at `step` of `total_steps`; throws for an unknown schedule.
double learning_rate_at(const TrainOptions& options, std::int64_t step, std::int64_t total_steps) {
    const double progress = static_cast<double>(step) / static_cast<double>(total_steps);
    if (options.schedule == "cosine")
        return options.learning_rate * 0.5 * (1 + std::cos(std::numbers::pi * progress));
    if (options.schedule == "step")
        return options.learning_rate * (progress < 0.5 ? 1.0 : progress < 0.75 ? 0.1 : 0.01);
    if (options.schedule == "constant") return options.learning_rate;
    throw InvalidArgument("unknown schedule '" + options.schedule + "' (cosine, step, constant)");
}

// One pass over the training part in a random order; `step` counts batches across epochs.
EpochRecord train_epoch(Network& net, torch::optim::AdamW& optimizer, const torch::Tensor& x_train,
                        const torch::Tensor& y_train, bool images, int epoch, std::int64_t& step,
                        std::int64_t total_steps, const TrainOptions& options) {
    const auto n = x_train.size(0);
    const auto steps_per_epoch = (n + options.batch_size - 1) / options.batch_size;
    const bool report_batches = options.progress && static_cast<bool>(options.on_batch);
    net.sequential->train();
    auto order = torch::randperm(n, torch::kInt64);
    double loss_sum = 0;
    std::int64_t correct = 0, seen = 0;
    double lr = 0;
    for (std::int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
        auto idx =
            order.slice(0, b * options.batch_size, std::min(n, (b + 1) * options.batch_size));
        auto x = x_train.index_select(0, idx);
        auto y = y_train.index_select(0, idx);
        if (options.augment && images) x = augment(x, options);
        lr = learning_rate_at(options, step, total_steps);
        for (auto& group : optimizer.param_groups())
            static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
        optimizer.zero_grad();
        auto out = net.sequential->forward(x);
        auto loss = torch::nn::functional::cross_entropy(out, y);
        const double loss_value = loss.item<double>();
        if (!std::isfinite(loss_value))
            throw ::henn::Error(ErrorCategory::parameters,
                                "training diverged (loss " + std::to_string(loss_value) +
                                    ") at epoch " + std::to_string(epoch) +
                                    ": try a lower learning rate, a wider approximation "
                                    "interval or batchnorm");
        loss.backward();
        if (options.gradient_clip > 0)
            torch::nn::utils::clip_grad_norm_(net.sequential->parameters(), options.gradient_clip);
        optimizer.step();
        loss_sum += loss_value * static_cast<double>(idx.size(0));
        correct += out.argmax(1).eq(y).sum().item<std::int64_t>();
        seen += idx.size(0);
        if (report_batches && (b % 10 == 0 || b + 1 == steps_per_epoch))
            options.on_batch({epoch, options.epochs, b + 1, steps_per_epoch,
                              loss_sum / static_cast<double>(seen)});
    }
    EpochRecord record;
    record.epoch = epoch;
    record.train_loss = loss_sum / static_cast<double>(seen);
    record.train_accuracy = static_cast<double>(correct) / static_cast<double>(seen);
    record.learning_rate = lr;
    return record;
}

// Pre-activation statistics on the training data, in inference mode.
std::vector<PreActivationStats> pre_activation_statistics(Network& net,
                                                          const torch::Tensor& x_train,
                                                          const TrainOptions& options) {
    torch::NoGradGuard no_grad;
    net.sequential->eval();
    for (auto& a : net.activations) {
        a->recording = true;
        a->reservoir_capacity = options.stats_samples;
    }
    const auto n = x_train.size(0);
    for (std::int64_t start = 0; start < n; start += 1000)
        net.sequential->forward(x_train.slice(0, start, std::min(n, start + 1000)));
    std::vector<PreActivationStats> stats;
    int index = 0;
    for (auto& a : net.activations) {
        a->recording = false;
        PreActivationStats s;
        s.layer = "act" + std::to_string(++index);
        s.count = a->count;
        s.min = a->lo;
        s.max = a->hi;
        s.mean = a->count ? a->sum / static_cast<double>(a->count) : 0;
        s.stddev = a->count
                       ? std::sqrt(std::max(
                             0.0, a->sum_squares / static_cast<double>(a->count) - s.mean * s.mean))
                       : 0;
        s.fraction_outside_interval =
            a->count ? static_cast<double>(a->outside) / static_cast<double>(a->count) : 0;
        s.samples = std::move(a->reservoir);
        stats.push_back(std::move(s));
    }
    return stats;
}

std::map<std::string, std::string> trained_model_metadata(
    const NetworkSpec& spec, const Dataset& train_data,
    const std::vector<PreActivationStats>& pre_activation) {
    std::map<std::string, std::string> metadata{
        {"henn.producer", "henn train"},
        {"henn.network", spec.name},
        {"henn.activation", activation_names(spec)},
        {"henn.input", "pixels scaled to [0,1]"},
        {"henn.data", train_data.name},
        {"henn.spec", nlohmann::json::parse(to_json(spec)).dump()},
    };
    for (const auto& s : pre_activation) {
        char text[160];
        std::snprintf(text, sizeof text,
                      "min=%.4g max=%.4g mean=%.4g std=%.4g outside_interval=%.3g%%", s.min, s.max,
                      s.mean, s.stddev, 100 * s.fraction_outside_interval);
        metadata["henn.preactivation." + s.layer] = text;
    }
    return metadata;
}

}  // namespace

TrainResult train_network(const NetworkSpec& spec, const Dataset& train_data,
                          const TrainOptions& options, const EpochCallback& on_epoch) {
    check_training_inputs(spec, train_data, options);
    const auto start_time = Clock::now();
    torch::set_num_threads(std::max(1, options.threads));
    torch::manual_seed(options.seed);

    Dataset train_part = train_data, validation_part;
    if (options.validation_fraction > 0) {
        auto split = split_train_validation(train_data, options.validation_fraction, options.seed);
        train_part = std::move(split.train);
        validation_part = std::move(split.validation);
    }
    auto x_train = to_tensor(train_part);
    auto y_train = torch::tensor(train_part.labels, torch::kInt64);
    auto x_val = to_tensor(validation_part);
    auto y_val = torch::tensor(validation_part.labels, torch::kInt64);
    const bool images = spec.input_shape.size() == 3;

    Network net = build_network(spec);
    if (!options.resume_path.empty()) {
        try {
            torch::load(net.sequential, options.resume_path);
        } catch (const c10::Error& e) {
            throw ::henn::Error(ErrorCategory::io, "cannot resume from " + options.resume_path +
                                                       " (not a checkpoint of this network?): " +
                                                       e.what_without_backtrace());
        }
    }
    torch::optim::AdamW optimizer(
        net.sequential->parameters(),
        torch::optim::AdamWOptions(options.learning_rate).weight_decay(options.weight_decay));
    const auto steps_per_epoch = (x_train.size(0) + options.batch_size - 1) / options.batch_size;
    const auto total_steps = steps_per_epoch * options.epochs;
    learning_rate_at(options, 0, total_steps);  // validates the schedule name before any work

    TrainResult result{Model({1}, {}), {}, {}, 0, 0};
    auto best_state = snapshot(net);
    double best_score = -1;
    int epochs_without_gain = 0;
    std::int64_t step = 0;
    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
        const auto epoch_start = Clock::now();
        EpochRecord record = train_epoch(net, optimizer, x_train, y_train, images, epoch, step,
                                         total_steps, options);
        if (x_val.size(0) > 0) {
            record.validated = true;
            auto s = score(net, x_val, y_val, 1000);
            record.validation_loss = s.loss;
            record.validation_accuracy = s.accuracy;
        }
        record.seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
        result.history.push_back(record);
        if (on_epoch) on_epoch(record);

        // Without a validation split the last epoch is kept (training accuracy is no guide).
        const double current =
            x_val.size(0) > 0 ? record.validation_accuracy : static_cast<double>(epoch);
        if (current > best_score) {
            best_score = current;
            result.best_epoch = epoch;
            best_state = snapshot(net);
            epochs_without_gain = 0;
            if (!options.checkpoint_path.empty())
                torch::save(net.sequential, options.checkpoint_path);
        } else if (options.patience > 0 && ++epochs_without_gain >= options.patience) {
            result.stopped_early = true;
            break;
        }
    }
    restore(net, best_state);

    result.pre_activation = pre_activation_statistics(net, x_train, options);
    result.model =
        to_model(spec, net, trained_model_metadata(spec, train_data, result.pre_activation));
    result.seconds = std::chrono::duration<double>(Clock::now() - start_time).count();
    return result;
}

TorchCrossCheck torch_cross_check(const NetworkSpec& spec, std::span<const double> inputs,
                                  std::int64_t batch, std::uint64_t seed) {
    torch::manual_seed(seed);
    Network net = build_network(spec);
    net.sequential->to(torch::kFloat64);
    {
        // Non-trivial BatchNorm statistics, so folding is really exercised.
        torch::NoGradGuard no_grad;
        for (auto& b : net.sequential->named_buffers()) {
            if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.5, 0.5);
            if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2.0);
        }
        for (auto& p : net.sequential->named_parameters()) {
            // BatchNorm's affine parameters start at 1 and 0: perturb them as well.
            if (p.value().dim() == 1) p.value().add_(torch::rand_like(p.value()) * 0.5 - 0.25);
        }
    }
    net.sequential->eval();
    std::vector<std::int64_t> sizes{batch};
    sizes.insert(sizes.end(), spec.input_shape.begin(), spec.input_shape.end());
    if (static_cast<std::int64_t>(inputs.size()) != batch * shape_size(spec.input_shape))
        throw InvalidArgument("torch_cross_check: input size does not match batch and shape");
    auto x = torch::from_blob(const_cast<double*>(inputs.data()), sizes, torch::kFloat64).clone();
    torch::Tensor out;
    {
        torch::NoGradGuard no_grad;
        out = net.sequential->forward(x);
    }
    TorchCrossCheck check{to_model(spec, net, {}), to_vector(out)};
    return check;
}

}  // namespace henn::train
