// Internal to the engine's own oneDNN primitives (onednn_net.h): the compiled network's state, shared by
// onednn_compile.cc (the frozen graph onto layers, LibTorch's tail and buffers) and onednn_net.cc (the
// primitives per batch size, their weights, the forward pass). Only with LANDSCAPE_WITH_ONEDNN.
#pragma once

#if LANDSCAPE_WITH_ONEDNN

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

#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

namespace landscape::engine {

using core::Status;
using core::StatusCode;

namespace onednn_internal {

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

inline std::vector<Node*> NodesInOrder(torch::jit::Graph& g) {
  std::vector<Node*> v;
  for (Node* n : g.nodes()) v.push_back(n);
  return v;
}

inline std::optional<std::vector<int64_t>> ConstInts(const Value* v, size_t n) {
  auto iv = torch::jit::toIValue(v);
  if (!iv || !iv->isIntList()) return std::nullopt;
  std::vector<int64_t> out = iv->toIntVector();
  if (out.size() == 1 && n == 2) out.push_back(out[0]);
  if (out.size() != n) return std::nullopt;
  return out;
}

// A constant tensor input of `dtype` on the CPU (undefined for None); nullopt when the input is not one.
inline std::optional<at::Tensor> ConstTensor(const Value* v, at::ScalarType dtype) {
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

// What Compile's steps share about the graph being compiled.
struct GraphWalk {
  const Value* x = nullptr;                       // the graph's input
  std::vector<Node*> nodes;                       // in graph order
  std::unordered_map<const Node*, size_t> pos;    // node -> its position in `nodes`
  std::unordered_map<const Value*, int> slot_of;  // values held in oneDNN buffers -> virtual slot
  std::vector<bool> consumed;                     // per node: fused into a convolution before it
};

inline Node* SingleUser(const Value* v) { return v->uses().size() == 1 ? v->uses()[0].user : nullptr; }
inline bool IsRelu(const Node* n) { return n && (n->kind() == kRelu || n->kind() == kReluInPlace); }

}  // namespace onednn_internal
using namespace onednn_internal;  // NOLINT: an internal header of two files

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

  // Compiles the frozen graph: its leading convolutions and poolings onto oneDNN layers (convs), the rest
  // onto LibTorch's operations (tail), and the activations onto reused buffers.
  Status Compile(torch::jit::Graph& g);
  int NewSlot(const Dims& d);
  // Whether node i, a max-pooling of an activation in a oneDNN buffer, became a layer.
  bool MatchPool(GraphWalk& w, size_t i);
  // Whether node i, a convolution oneDNN can run, became a layer (with the ReLU or residual addition after
  // it fused); false: the convolutions end here.
  Status MatchConv(torch::jit::Graph& g, GraphWalk& gw, size_t i, bool* matched);
  // LibTorch's part from node `cut` on; `last_use` (per virtual slot, the last layer reading or writing it)
  // is extended for the activations the tail reads.
  Status CompileTail(torch::jit::Graph& g, GraphWalk& w, size_t cut, std::vector<int>& last_use);
  // Places the virtual slots onto physical buffers.
  void AssignBuffers(const std::vector<int>& last_use);
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

namespace onednn_internal {

// Reasons a graph cannot start on oneDNN; the node's kind helps users see why.
inline Status Unsupported(const std::string& why) { return Status(StatusCode::kUnimplemented, why); }

}  // namespace onednn_internal

}  // namespace landscape::engine

#endif  // LANDSCAPE_WITH_ONEDNN
