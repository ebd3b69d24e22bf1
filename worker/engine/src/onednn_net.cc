#include "onednn_net.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#if LANDSCAPE_WITH_ONEDNN
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

#if !LANDSCAPE_WITH_ONEDNN

struct OnednnNet::Impl {};

OnednnNet::OnednnNet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OnednnNet::~OnednnNet() = default;

Result<std::unique_ptr<OnednnNet>> OnednnNet::Create(const std::shared_ptr<torch::jit::Graph>&, at::IntArrayRef,
                                                     const std::vector<int64_t>&, const Options&) {
  return Status(StatusCode::kUnimplemented, "built without oneDNN's headers (libdnnl-dev)");
}
Status OnednnNet::SetWeights(const std::shared_ptr<torch::jit::Graph>&) {
  return Status(StatusCode::kUnimplemented, "built without oneDNN's headers (libdnnl-dev)");
}
at::Tensor OnednnNet::Forward(const at::Tensor&, size_t) { throw std::logic_error("OnednnNet: not built"); }
std::string OnednnNet::Description() const { return ""; }

#else

namespace {

using torch::jit::Node;
using torch::jit::Value;
using Tag = dnnl::memory::format_tag;
using Type = dnnl::memory::data_type;

const c10::Symbol kConv2d = c10::Symbol::fromQualString("aten::conv2d");
const c10::Symbol kMaxPool2d = c10::Symbol::fromQualString("aten::max_pool2d");
const c10::Symbol kRelu = c10::Symbol::fromQualString("aten::relu");
const c10::Symbol kReluInPlace = c10::Symbol::fromQualString("aten::relu_");
const c10::Symbol kAdd = c10::Symbol::fromQualString("aten::add");
const c10::Symbol kAddInPlace = c10::Symbol::fromQualString("aten::add_");
const c10::Symbol kConstant = c10::Symbol::fromQualString("prim::Constant");

std::vector<Node*> NodesInOrder(torch::jit::Graph& g) {
  std::vector<Node*> v;
  for (Node* n : g.nodes()) v.push_back(n);
  return v;
}

std::optional<std::vector<int64_t>> ConstInts(const Value* v, size_t n) {
  auto iv = torch::jit::toIValue(v);
  if (!iv || !iv->isIntList()) return std::nullopt;
  std::vector<int64_t> out = iv->toIntVector();
  if (out.size() == 1 && n == 2) out.push_back(out[0]);
  if (out.size() != n) return std::nullopt;
  return out;
}

// A constant tensor input of `dtype` on the CPU (undefined for None); nullopt when the input is not one.
std::optional<at::Tensor> ConstTensor(const Value* v, at::ScalarType dtype) {
  auto iv = torch::jit::toIValue(v);
  if (!iv) return std::nullopt;
  if (iv->isNone()) return at::Tensor();
  if (!iv->isTensor()) return std::nullopt;
  at::Tensor t = iv->toTensor();
  if (t.scalar_type() != dtype || !t.device().is_cpu()) return std::nullopt;
  return t;
}

struct Dims {
  int64_t c = 0, h = 0, w = 0;
  bool operator==(const Dims& o) const { return c == o.c && h == o.h && w == o.w; }
};

// One convolution, with the ReLU / residual addition fused into it; or a max-pooling (`pool`: kh×kw
// window, no weights).
struct ConvLayer {
  size_t node = 0;     // position of the aten::conv2d / aten::max_pool2d node in graph order
  bool pool = false;
  int src = -1;        // activation read (a virtual slot); -1 = the graph's input
  int dst = 0;         // activation written (with `sum`: the residual's, added to)
  bool relu = false, sum = false, winograd = false, bias = false;
  Dims in, out;
  int64_t kh = 0, kw = 0;
  std::array<int64_t, 2> stride{}, pad{}, dilation{};
};

// An input of a node that runs in LibTorch: a constant of the current graph, or a value computed before.
struct TailInput {
  bool constant = false;
  int value = -1;  // env index when not constant
};
struct TailNode {
  size_t node = 0;
  std::vector<TailInput> inputs;
  std::vector<int> outputs;  // env indices
};

// A oneDNN activation that LibTorch's part reads: converted to a dense NCHW tensor after the convolutions.
struct Conversion {
  int slot = 0;  // virtual slot
  int env = 0;
};

}  // namespace

struct OnednnNet::Impl {
  Options options;
  Type act = Type::f32;               // activations, weights and biases: float32 or bfloat16
  std::vector<int64_t> sample_shape;  // [C, H, W]
  size_t node_count = 0;
  std::vector<c10::Symbol> kinds;  // every node's kind, to check that a later graph has the same structure
  std::vector<ConvLayer> convs;
  std::vector<Dims> slot_dims;       // per virtual slot
  std::vector<int> physical;         // virtual slot -> physical buffer
  std::vector<Dims> physical_dims;   // per physical buffer
  std::vector<TailNode> tail;
  std::vector<Conversion> conversions;
  int env_size = 1;  // env[0] = the graph's input
  int output_env = 0;
  int fused_relus = 0, fused_adds = 0, winograd_count = 0, pools = 0;
  int tail_convolutions = 0;  // aten::conv2d nodes left to LibTorch
  int64_t chunk = 0;          // the convolutions run on chunks of at most this many samples (0: whole batches)

  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream setup_stream{eng};

  // Per batch size: the primitives, their weights, and each lane's buffers.
  struct Lane {
    dnnl::stream stream;
    std::vector<dnnl::memory> buffers;  // per physical buffer
    dnnl::memory input;                 // wraps the batch's input
    dnnl::memory scratchpad;
  };
  struct Plan {
    int64_t batch = 0;
    std::vector<dnnl::primitive> prims;  // per layer
    std::vector<dnnl::memory> weights, biases;
    std::vector<dnnl::reorder> to_dense;  // per conversion
    std::vector<Lane> lanes;
  };
  std::map<int64_t, Plan> plans;

  // The current point's graph: the tail's operations and constants come from it.
  std::shared_ptr<torch::jit::Graph> graph;
  std::vector<std::vector<torch::jit::Operation>> lane_ops;  // per lane, per tail node
  std::vector<std::vector<c10::IValue>> constants;            // per tail node, per input (constants only)

  Status Compile(torch::jit::Graph& g);
  Status BuildPlan(int64_t batch);
  // Runs the convolutions of one batch on `lane`'s buffers; with `seconds`, times each one (adding the
  // time to its entry; the stream is waited for after each).
  void RunConvs(Plan& p, Lane& lane, const at::Tensor& x, std::vector<double>* seconds);
  // Keeps Winograd only for the layers where it measured faster than direct, in a pass through the whole
  // model with `threads` OpenMP threads (how fast a layer runs depends on what ran before it: in isolation
  // ResNet-20's 16-channel layers are 1.4x faster with Winograd, in the model 0.7x).
  Status TuneAlgorithms(const std::shared_ptr<torch::jit::Graph>& graph, int64_t batch, int threads);
  Status LoadWeights(const std::vector<Node*>& nodes);
};

namespace {

// Reasons a graph cannot start on oneDNN; the node's kind helps users see why.
Status Unsupported(const std::string& why) { return Status(StatusCode::kUnimplemented, why); }

}  // namespace

Status OnednnNet::Impl::Compile(torch::jit::Graph& g) {
  if (g.inputs().size() != 2 || g.outputs().size() != 1) return Unsupported("forward must take and return one tensor");
  if (g.inputs()[0]->hasUses()) return Unsupported("the frozen graph still reads module attributes");
  const Value* x = g.inputs()[1];
  const std::vector<Node*> nodes = NodesInOrder(g);
  node_count = nodes.size();
  std::unordered_map<const Node*, size_t> pos;
  for (size_t i = 0; i < nodes.size(); ++i) {
    pos[nodes[i]] = i;
    kinds.push_back(nodes[i]->kind());
  }
  std::unordered_map<const Value*, int> slot_of;  // values held in oneDNN buffers -> virtual slot
  std::vector<bool> consumed(nodes.size(), false);
  auto new_slot = [&](const Dims& d) {
    slot_dims.push_back(d);
    return static_cast<int>(slot_dims.size()) - 1;
  };
  auto single_user = [](const Value* v) -> Node* { return v->uses().size() == 1 ? v->uses()[0].user : nullptr; };
  auto is_relu = [](const Node* n) { return n && (n->kind() == kRelu || n->kind() == kReluInPlace); };
  size_t cut = nodes.size();
  Dims input_dims{sample_shape[0], sample_shape[1], sample_shape[2]};
  for (size_t i = 0; i < nodes.size() && cut == nodes.size(); ++i) {
    Node* n = nodes[i];
    if (consumed[i] || n->kind() == kConstant) continue;
    if (n->kind() == kMaxPool2d && n->inputs().size() == 6 && slot_of.count(n->inputs()[0])) {
      // Max-pooling of an activation: windows without dilation, floor rounding (ceil_mode false).
      auto kernel = ConstInts(n->inputs()[1], 2), pad = ConstInts(n->inputs()[3], 2), dil = ConstInts(n->inputs()[4], 2);
      auto stride_iv = torch::jit::toIValue(n->inputs()[2]);
      auto ceil = torch::jit::toIValue(n->inputs()[5]);
      std::optional<std::vector<int64_t>> stride;
      if (stride_iv && stride_iv->isIntList() && stride_iv->toIntVector().empty()) stride = kernel;  // default: the window
      else stride = ConstInts(n->inputs()[2], 2);
      if (kernel && pad && dil && stride && ceil && ceil->isBool() && !ceil->toBool() && (*dil)[0] == 1 &&
          (*dil)[1] == 1 && 2 * (*pad)[0] <= (*kernel)[0] && 2 * (*pad)[1] <= (*kernel)[1]) {
        ConvLayer P;
        P.node = i;
        P.pool = true;
        P.src = slot_of[n->inputs()[0]];
        P.in = slot_dims[static_cast<size_t>(P.src)];
        P.kh = (*kernel)[0];
        P.kw = (*kernel)[1];
        for (size_t d = 0; d < 2; ++d) {
          P.stride[d] = (*stride)[d];
          P.pad[d] = (*pad)[d];
          P.dilation[d] = 1;
        }
        P.out = Dims{P.in.c, (P.in.h + 2 * P.pad[0] - P.kh) / P.stride[0] + 1, (P.in.w + 2 * P.pad[1] - P.kw) / P.stride[1] + 1};
        if (P.out.h > 0 && P.out.w > 0) {
          P.dst = new_slot(P.out);
          slot_of[n->outputs()[0]] = P.dst;
          ++pools;
          convs.push_back(P);
          continue;
        }
      }
    }
    // A convolution of the input or of an activation in a oneDNN buffer, with constant weights.
    bool ok = n->kind() == kConv2d && n->inputs().size() == 7 && n->outputs().size() == 1 && n->blocks().empty();
    ConvLayer L;
    L.node = i;
    if (ok) {
      const Value* in = n->inputs()[0];
      if (in == x) {
        L.src = -1;
        L.in = input_dims;
      } else if (slot_of.count(in)) {
        L.src = slot_of[in];
        L.in = slot_dims[static_cast<size_t>(L.src)];
      } else {
        ok = false;
      }
    }
    std::optional<at::Tensor> w, b;
    std::optional<std::vector<int64_t>> stride, pad, dil;
    if (ok) {
      w = ConstTensor(n->inputs()[1], options.dtype);
      b = ConstTensor(n->inputs()[2], options.dtype);
      stride = ConstInts(n->inputs()[3], 2);
      pad = ConstInts(n->inputs()[4], 2);
      dil = ConstInts(n->inputs()[5], 2);
      auto g_iv = torch::jit::toIValue(n->inputs()[6]);
      ok = w && w->defined() && w->dim() == 4 && b && stride && pad && dil && g_iv && g_iv->isInt() &&
           g_iv->toInt() == 1 && w->size(1) == L.in.c && (!b->defined() || b->numel() == w->size(0));
    }
    if (!ok) {
      cut = i;
      break;
    }
    L.kh = w->size(2);
    L.kw = w->size(3);
    L.bias = b->defined();
    for (int d = 0; d < 2; ++d) {
      L.stride[static_cast<size_t>(d)] = (*stride)[static_cast<size_t>(d)];
      L.pad[static_cast<size_t>(d)] = (*pad)[static_cast<size_t>(d)];
      L.dilation[static_cast<size_t>(d)] = (*dil)[static_cast<size_t>(d)];
    }
    auto out_size = [&](int64_t in_size, int64_t k, size_t d) {
      return (in_size + 2 * L.pad[d] - L.dilation[d] * (k - 1) - 1) / L.stride[d] + 1;
    };
    L.out = Dims{w->size(0), out_size(L.in.h, L.kh, 0), out_size(L.in.w, L.kw, 1)};
    if (L.out.h <= 0 || L.out.w <= 0) return Unsupported("a convolution's output would be empty");
    L.winograd = options.winograd && options.dtype == at::kFloat && L.kh == 3 && L.kw == 3 && L.stride[0] == 1 &&
                 L.stride[1] == 1 && L.dilation[0] == 1 && L.dilation[1] == 1 && L.in.c % 16 == 0 &&
                 L.out.c % 16 == 0;
    // Fusion: conv -> relu; conv -> add(residual) [-> relu], the addition being the residual's last use.
    const Value* out = n->outputs()[0];
    Node* user = single_user(out);
    const Value* result = out;  // the value the layer's buffer holds in the end
    if (is_relu(user) && pos[user] > i) {
      L.relu = true;
      consumed[pos[user]] = true;
      result = user->outputs()[0];
      ++fused_relus;
    } else if (user && (user->kind() == kAdd || user->kind() == kAddInPlace) && user->inputs().size() == 3) {
      auto alpha = torch::jit::toIValue(user->inputs()[2]);
      const Value* r = user->inputs()[0] == out ? user->inputs()[1] : user->inputs()[0];
      bool fuse = alpha && ((alpha->isInt() && alpha->toInt() == 1) || (alpha->isDouble() && alpha->toDouble() == 1.0)) &&
                  r != out && slot_of.count(r) && slot_dims[static_cast<size_t>(slot_of[r])] == L.out &&
                  r != g.outputs()[0];
      for (const torch::jit::Use& u : r->uses()) {
        if (u.user != user && pos[u.user] >= i) fuse = false;  // read after the convolution overwrites it
      }
      if (fuse) {
        L.sum = true;
        L.dst = slot_of[r];
        consumed[pos[user]] = true;
        result = user->outputs()[0];
        ++fused_adds;
        Node* after = single_user(result);
        if (is_relu(after)) {
          L.relu = true;
          consumed[pos[after]] = true;
          result = after->outputs()[0];
          ++fused_relus;
        }
      }
    }
    if (!L.sum) L.dst = new_slot(L.out);
    slot_of[result] = L.dst;
    convs.push_back(L);
  }
  if (convs.empty()) return Unsupported("the model does not start with a convolution of its input");
  for (size_t i = cut; i < nodes.size(); ++i) tail_convolutions += nodes[i]->kind() == kConv2d ? 1 : 0;

  // LibTorch's part: every node from the cut on that was not fused, reading constants, the input, oneDNN
  // activations (converted once) and its own outputs.
  std::unordered_map<const Value*, int> env_of{{x, 0}};
  std::vector<int> last_use(slot_dims.size(), -1);  // last conv step reading or writing each virtual slot
  for (size_t s = 0; s < convs.size(); ++s) {
    if (convs[s].src >= 0) last_use[static_cast<size_t>(convs[s].src)] = static_cast<int>(s);
    last_use[static_cast<size_t>(convs[s].dst)] = static_cast<int>(s);
  }
  const int kForever = std::numeric_limits<int>::max();
  auto env_for = [&](const Value* v) -> std::optional<int> {
    if (auto it = env_of.find(v); it != env_of.end()) return it->second;
    if (auto it = slot_of.find(v); it != slot_of.end()) {
      conversions.push_back(Conversion{it->second, env_size});
      last_use[static_cast<size_t>(it->second)] = kForever;
      env_of[v] = env_size;
      return env_size++;
    }
    return std::nullopt;
  };
  for (size_t i = cut; i < nodes.size(); ++i) {
    Node* n = nodes[i];
    if (consumed[i] || n->kind() == kConstant) continue;
    if (!n->blocks().empty()) return Unsupported("control flow after the convolutions (" + std::string(n->kind().toQualString()) + ")");
    TailNode t;
    t.node = i;
    for (const Value* in : n->inputs()) {
      TailInput ti;
      if (torch::jit::toIValue(in)) {
        ti.constant = true;
      } else if (auto e = env_for(in)) {
        ti.value = *e;
      } else {
        return Unsupported(std::string("an input of ") + n->kind().toQualString() + " comes from nowhere known");
      }
      t.inputs.push_back(ti);
    }
    for (const Value* o : n->outputs()) {
      env_of[o] = env_size;
      t.outputs.push_back(env_size++);
    }
    tail.push_back(std::move(t));
  }
  auto out_env = env_for(g.outputs()[0]);
  if (!out_env) {
    if (!torch::jit::toIValue(g.outputs()[0])) return Unsupported("the output comes from nowhere known");
    return Unsupported("the model's output is a constant");
  }
  output_env = *out_env;

  // Buffers: a virtual slot takes a free buffer of its shape once every slot that held it is past its last use.
  physical.assign(slot_dims.size(), -1);
  std::vector<int> buffer_free_after;  // per buffer: the step after which it is free again
  for (size_t s = 0; s < convs.size(); ++s) {
    const int v = convs[s].dst;
    if (physical[static_cast<size_t>(v)] >= 0) continue;  // a residual's slot, placed before
    int chosen = -1;
    for (size_t b = 0; b < physical_dims.size() && chosen < 0; ++b) {
      if (physical_dims[b] == slot_dims[static_cast<size_t>(v)] && buffer_free_after[b] < static_cast<int>(s)) {
        chosen = static_cast<int>(b);
      }
    }
    if (chosen < 0) {
      physical_dims.push_back(slot_dims[static_cast<size_t>(v)]);
      buffer_free_after.push_back(0);
      chosen = static_cast<int>(physical_dims.size()) - 1;
    }
    physical[static_cast<size_t>(v)] = chosen;
    buffer_free_after[static_cast<size_t>(chosen)] = last_use[static_cast<size_t>(v)];
  }
  return Status::Ok();
}

Status OnednnNet::Impl::BuildPlan(int64_t batch) {
  Plan p;
  p.batch = batch;
  size_t scratch = 0;
  int winograd = 0;
  try {
    for (const ConvLayer& L : convs) {
      if (L.pool) {
        const dnnl::memory::desc src_md({batch, L.in.c, L.in.h, L.in.w}, act, Tag::nChw16c);
        const dnnl::memory::desc dst_md({batch, L.out.c, L.out.h, L.out.w}, act, Tag::nChw16c);
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        const dnnl::pooling_forward::primitive_desc pd(
            dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, src_md, dst_md,
                                        {L.stride[0], L.stride[1]}, {L.kh, L.kw}, {L.pad[0], L.pad[1]},
                                        {L.pad[0], L.pad[1]}),
            attr, eng);
        scratch = std::max(scratch, pd.scratchpad_desc().get_size());
        p.prims.emplace_back(dnnl::pooling_forward(pd));
        p.weights.emplace_back();
        p.biases.emplace_back();
        continue;
      }
      const dnnl::memory::dims src{batch, L.in.c, L.in.h, L.in.w}, dst{batch, L.out.c, L.out.h, L.out.w},
          wei{L.out.c, L.in.c, L.kh, L.kw}, bias{L.out.c};
      const dnnl::memory::desc src_md(src, act, L.src < 0 ? Tag::nchw : Tag::nChw16c);
      const dnnl::memory::desc dst_md(dst, act, Tag::nChw16c);
      const dnnl::memory::desc wei_md(wei, act, Tag::any), bias_md(bias, act, Tag::any);
      const dnnl::memory::dims strides{L.stride[0], L.stride[1]}, dil{L.dilation[0] - 1, L.dilation[1] - 1},
          pad{L.pad[0], L.pad[1]};
      dnnl::post_ops ops;
      if (L.sum) ops.append_sum(1.f);
      if (L.relu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      dnnl::primitive_attr attr;
      attr.set_post_ops(ops);
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      auto make = [&](dnnl::algorithm alg) {
        if (L.bias) {
          return dnnl::convolution_forward::primitive_desc(
              dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg, src_md, wei_md, bias_md, dst_md,
                                              strides, dil, pad, pad),
              attr, eng);
        }
        return dnnl::convolution_forward::primitive_desc(
            dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg, src_md, wei_md, dst_md, strides,
                                            dil, pad, pad),
            attr, eng);
      };
      dnnl::convolution_forward::primitive_desc pd;
      bool made = false;
      if (L.winograd) {
        try {
          pd = make(dnnl::algorithm::convolution_winograd);
          made = true;
          ++winograd;
        } catch (const dnnl::error&) {
          // No Winograd kernel for this shape or CPU: direct.
        }
      }
      if (!made) pd = make(dnnl::algorithm::convolution_direct);
      scratch = std::max(scratch, pd.scratchpad_desc().get_size());
      p.prims.emplace_back(dnnl::convolution_forward(pd));
      p.weights.emplace_back(pd.weights_desc(), eng);
      p.biases.push_back(L.bias ? dnnl::memory(pd.bias_desc(), eng) : dnnl::memory());
    }
    for (const Conversion& c : conversions) {
      const Dims& d = slot_dims[static_cast<size_t>(c.slot)];
      const dnnl::memory::dims dims{batch, d.c, d.h, d.w};
      p.to_dense.emplace_back(dnnl::reorder::primitive_desc(eng, dnnl::memory::desc(dims, act, Tag::nChw16c), eng,
                                                            dnnl::memory::desc(dims, act, Tag::nchw)));
    }
    const dnnl::memory::desc input_md({batch, sample_shape[0], sample_shape[1], sample_shape[2]}, act, Tag::nchw);
    for (size_t l = 0; l < std::max<size_t>(1, options.lanes); ++l) {
      Lane lane{dnnl::stream(eng), {}, dnnl::memory(input_md, eng, DNNL_MEMORY_NONE), dnnl::memory()};
      for (const Dims& d : physical_dims) {
        lane.buffers.emplace_back(dnnl::memory::desc({batch, d.c, d.h, d.w}, act, Tag::nChw16c), eng);
      }
      if (scratch > 0) {
        lane.scratchpad =
            dnnl::memory(dnnl::memory::desc({static_cast<dnnl::memory::dim>(scratch)}, Type::u8, Tag::a), eng);
      }
      p.lanes.push_back(std::move(lane));
    }
  } catch (const dnnl::error& e) {
    return Status(StatusCode::kInternal, std::string("oneDNN refused the model: ") + e.what());
  }
  winograd_count = winograd;  // the same for every batch size in practice; the last plan's
  plans.emplace(batch, std::move(p));
  return Status::Ok();
}

void OnednnNet::Impl::RunConvs(Plan& p, Lane& L, const at::Tensor& x, std::vector<double>* seconds) {
  L.input.set_data_handle(x.data_ptr());
  for (size_t k = 0; k < convs.size(); ++k) {
    const ConvLayer& c = convs[k];
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, c.src < 0 ? L.input : L.buffers[static_cast<size_t>(physical[static_cast<size_t>(c.src)])]},
        {DNNL_ARG_DST, L.buffers[static_cast<size_t>(physical[static_cast<size_t>(c.dst)])]}};
    if (!c.pool) args[DNNL_ARG_WEIGHTS] = p.weights[k];
    if (c.bias) args[DNNL_ARG_BIAS] = p.biases[k];
    if (L.scratchpad) args[DNNL_ARG_SCRATCHPAD] = L.scratchpad;
    if (seconds) {
      const auto t0 = std::chrono::steady_clock::now();
      p.prims[k].execute(L.stream, args);
      L.stream.wait();
      (*seconds)[k] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } else {
      p.prims[k].execute(L.stream, args);
    }
  }
}

Status OnednnNet::Impl::TuneAlgorithms(const std::shared_ptr<torch::jit::Graph>& graph, int64_t batch, int threads) {
  bool any = false;
  for (const ConvLayer& L : convs) any = any || L.winograd;
  if (!any) return Status::Ok();
  const std::vector<Node*> nodes = NodesInOrder(*graph);
  const at::Tensor x = at::randn({batch, sample_shape[0], sample_shape[1], sample_shape[2]}).to(options.dtype);
  // Per layer, the best of a few passes with Winograd wherever possible, then with direct only.
  auto measure = [&](std::vector<double>* best) -> Status {
    plans.clear();
    LS_RETURN_IF_ERROR(BuildPlan(batch));
    LS_RETURN_IF_ERROR(LoadWeights(nodes));
    Plan& p = plans.begin()->second;
    best->assign(convs.size(), 1e300);
    Status status = Status::Ok();
    // A thread of its own, so that its OpenMP thread count is the lanes' and not the caller's.
    std::thread([&] {
      omp_set_num_threads(threads);
      try {
        for (int pass = 0; pass < 4; ++pass) {
          std::vector<double> t(convs.size(), 0.0);
          RunConvs(p, p.lanes.front(), x, &t);
          if (pass < 1) continue;  // warm-up
          for (size_t k = 0; k < t.size(); ++k) (*best)[k] = std::min((*best)[k], t[k]);
        }
      } catch (const dnnl::error& e) {
        status = Status(StatusCode::kInternal, std::string("oneDNN failed: ") + e.what());
      }
    }).join();
    return status;
  };
  std::vector<bool> candidate;
  for (const ConvLayer& L : convs) candidate.push_back(L.winograd);
  std::vector<double> with, without;
  LS_RETURN_IF_ERROR(measure(&with));
  for (ConvLayer& L : convs) L.winograd = false;
  LS_RETURN_IF_ERROR(measure(&without));
  for (size_t k = 0; k < convs.size(); ++k) convs[k].winograd = candidate[k] && with[k] < 0.97 * without[k];
  plans.clear();
  return Status::Ok();
}

Status OnednnNet::Impl::LoadWeights(const std::vector<Node*>& nodes) {
  try {
    for (size_t k = 0; k < convs.size(); ++k) {
      const ConvLayer& L = convs[k];
      if (L.pool) continue;
      const Node* n = nodes[L.node];
      std::optional<at::Tensor> w = ConstTensor(n->inputs()[1], options.dtype),
                                b = ConstTensor(n->inputs()[2], options.dtype);
      if (!w || !w->defined() || !b || b->defined() != L.bias) {
        return Status(StatusCode::kInternal, "a convolution's weights are no longer constants");
      }
      const at::Tensor wc = w->contiguous();
      const at::Tensor bc = L.bias ? b->contiguous() : at::Tensor();
      for (auto& [batch, p] : plans) {
        dnnl::memory plain({{L.out.c, L.in.c, L.kh, L.kw}, act, Tag::oihw}, eng, wc.data_ptr());
        dnnl::reorder(plain, p.weights[k]).execute(setup_stream, plain, p.weights[k]);
        if (L.bias) {
          dnnl::memory plain_b({{L.out.c}, act, Tag::x}, eng, bc.data_ptr());
          dnnl::reorder(plain_b, p.biases[k]).execute(setup_stream, plain_b, p.biases[k]);
        }
      }
      setup_stream.wait();  // wc and bc are freed at the end of the iteration
    }
  } catch (const dnnl::error& e) {
    return Status(StatusCode::kInternal, std::string("oneDNN could not load the weights: ") + e.what());
  }
  return Status::Ok();
}

OnednnNet::OnednnNet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OnednnNet::~OnednnNet() = default;

Result<std::unique_ptr<OnednnNet>> OnednnNet::Create(const std::shared_ptr<torch::jit::Graph>& graph,
                                                     at::IntArrayRef sample_shape,
                                                     const std::vector<int64_t>& batch_sizes,
                                                     const Options& options) {
  if (sample_shape.size() != 3) return Unsupported("inputs are not images (C×H×W)");
  if (options.dtype != at::kFloat && options.dtype != at::kBFloat16) return Unsupported("float16 on CPUs");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->act = options.dtype == at::kBFloat16 ? Type::bf16 : Type::f32;
  impl->sample_shape.assign(sample_shape.begin(), sample_shape.end());
  LS_RETURN_IF_ERROR(impl->Compile(*graph));
  if (options.require_all_convolutions && impl->tail_convolutions > 0) {
    return Unsupported(std::to_string(impl->tail_convolutions) + " of the model's convolutions come after a node the "
                       "primitives cannot take (" + std::string(impl->kinds[impl->tail.front().node].toQualString()) +
                       ") and would run unfused in LibTorch");
  }
  // Chunks whose largest activation fits `max_activation_bytes` (nChw16c pads channels to 16).
  int64_t per_sample = 1;
  const int64_t element = options.dtype == at::kBFloat16 ? 2 : 4;
  for (const Dims& d : impl->slot_dims) per_sample = std::max(per_sample, (d.c + 15) / 16 * 16 * d.h * d.w * element);
  int64_t largest = 0;
  for (int64_t b : batch_sizes) largest = std::max(largest, b);
  impl->chunk = largest;
  if (options.max_activation_bytes > 0) {
    impl->chunk = std::max<int64_t>(1, std::min(largest, options.max_activation_bytes / per_sample));
  }
  std::vector<int64_t> chunks;  // every chunk size a batch splits into
  for (int64_t b : batch_sizes) {
    if (b <= 0) continue;
    for (int64_t c : {std::min(b, impl->chunk), b % impl->chunk}) {
      if (c > 0 && std::find(chunks.begin(), chunks.end(), c) == chunks.end()) chunks.push_back(c);
    }
  }
  if (options.tune_threads > 0 && !chunks.empty()) {
    LS_RETURN_IF_ERROR(impl->TuneAlgorithms(graph, chunks.front(), options.tune_threads));
  }
  for (int64_t c : chunks) LS_RETURN_IF_ERROR(impl->BuildPlan(c));
  std::unique_ptr<OnednnNet> net(new OnednnNet(std::move(impl)));
  LS_RETURN_IF_ERROR(net->SetWeights(graph));
  return net;
}

Status OnednnNet::SetWeights(const std::shared_ptr<torch::jit::Graph>& graph) {
  Impl& m = *impl_;
  const std::vector<Node*> nodes = NodesInOrder(*graph);
  if (nodes.size() != m.node_count) return Status(StatusCode::kInternal, "the frozen graph changed between points");
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i]->kind() != m.kinds[i]) return Status(StatusCode::kInternal, "the frozen graph changed between points");
  }
  LS_RETURN_IF_ERROR(m.LoadWeights(nodes));
  m.constants.assign(m.tail.size(), {});
  std::vector<torch::jit::Operation> ops;
  try {
    for (size_t t = 0; t < m.tail.size(); ++t) {
      const Node* n = nodes[m.tail[t].node];
      for (size_t k = 0; k < n->inputs().size(); ++k) {
        m.constants[t].push_back(m.tail[t].inputs[k].constant ? *torch::jit::toIValue(n->inputs()[k]) : c10::IValue());
      }
      ops.push_back(n->getOperation());
    }
  } catch (const std::exception& e) {
    return Status(StatusCode::kUnimplemented, std::string("no operator for the graph's tail: ") + e.what());
  }
  m.lane_ops.assign(std::max<size_t>(1, m.options.lanes), ops);
  m.graph = graph;  // the operations may refer to its nodes
  return Status::Ok();
}

at::Tensor OnednnNet::Forward(const at::Tensor& x_in, size_t lane) {
  Impl& m = *impl_;
  TORCH_CHECK(x_in.dim() == 4 && x_in.size(1) == m.sample_shape[0] && x_in.size(2) == m.sample_shape[1] &&
                  x_in.size(3) == m.sample_shape[2] && x_in.scalar_type() == m.options.dtype && x_in.device().is_cpu(),
              "OnednnNet: input ", x_in.sizes(), " does not match the compiled shape");
  const at::Tensor x = x_in.contiguous();
  const int64_t batch = x.size(0);
  std::vector<c10::IValue> env(static_cast<size_t>(m.env_size));
  env[0] = x;
  // The convolutions chunk by chunk (activations that stay in the core's caches); what LibTorch reads next
  // is converted into whole-batch dense tensors.
  std::vector<at::Tensor> dense(m.conversions.size());
  for (size_t k = 0; k < m.conversions.size(); ++k) {
    const Dims& d = m.slot_dims[static_cast<size_t>(m.conversions[k].slot)];
    dense[k] = at::empty({batch, d.c, d.h, d.w}, x.options());
    env[static_cast<size_t>(m.conversions[k].env)] = dense[k];
  }
  for (int64_t start = 0; start < batch; start += m.chunk) {
    const int64_t len = std::min(m.chunk, batch - start);
    auto it = m.plans.find(len);
    TORCH_CHECK(it != m.plans.end(), "OnednnNet: no plan for a chunk of ", len, " samples (batch ", batch, ")");
    TORCH_CHECK(lane < it->second.lanes.size(), "OnednnNet: lane ", lane, " out of range");
    Impl::Plan& p = it->second;
    Impl::Lane& L = p.lanes[lane];
    m.RunConvs(p, L, x.narrow(0, start, len), nullptr);
    for (size_t k = 0; k < m.conversions.size(); ++k) {
      const Dims& d = m.slot_dims[static_cast<size_t>(m.conversions[k].slot)];
      char* base = static_cast<char*>(dense[k].data_ptr()) + start * d.c * d.h * d.w * dense[k].element_size();
      dnnl::memory to({{len, d.c, d.h, d.w}, m.act, Tag::nchw}, m.eng, base);
      p.to_dense[k].execute(L.stream, L.buffers[static_cast<size_t>(m.physical[static_cast<size_t>(m.conversions[k].slot)])],
                            to);
    }
    L.stream.wait();
  }
  std::vector<torch::jit::Operation>& ops = m.lane_ops[lane];
  torch::jit::Stack stack;
  for (size_t t = 0; t < m.tail.size(); ++t) {
    const TailNode& tn = m.tail[t];
    stack.clear();
    for (size_t k = 0; k < tn.inputs.size(); ++k) {
      stack.push_back(tn.inputs[k].constant ? m.constants[t][k] : env[static_cast<size_t>(tn.inputs[k].value)]);
    }
    ops[t](stack);
    TORCH_CHECK(stack.size() == tn.outputs.size(), "OnednnNet: ", m.kinds[tn.node].toQualString(), " returned ",
                stack.size(), " values");
    for (size_t k = 0; k < tn.outputs.size(); ++k) env[static_cast<size_t>(tn.outputs[k])] = std::move(stack[k]);
  }
  return env[static_cast<size_t>(m.output_env)].toTensor();
}

std::string OnednnNet::Description() const {
  const Impl& m = *impl_;
  const size_t convolutions = m.convs.size() - static_cast<size_t>(m.pools);
  char buf[280];
  std::snprintf(buf, sizeof buf,
                "%zu convolutions (%d Winograd) and %d max-poolings, with %d ReLUs and %d residual additions fused, "
                "then %zu operations in LibTorch; chunks of %lld samples",
                convolutions, m.winograd_count, m.pools, m.fused_relus, m.fused_adds, m.tail.size(),
                static_cast<long long>(m.chunk));
  return buf;
}

#endif  // LANDSCAPE_WITH_ONEDNN

}  // namespace landscape::engine
