#include "first_layer.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <unordered_set>
#include <vector>

#include "model_io.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

namespace {

Status Cannot(const std::string& why) { return Status(StatusCode::kFailedPrecondition, why); }

bool IsWeightedLayer(const Node* n) {
  const auto k = n->kind();
  return k == c10::aten::linear || k == c10::aten::conv1d || k == c10::aten::conv2d || k == c10::aten::conv3d;
}

// The attribute path ("fc1.weight") of a value read from the module through
// prim::GetAttr nodes, or "" when it is anything else.
std::string AttributePath(const Value* v, const Value* self) {
  std::vector<std::string> names;
  while (v != self) {
    const Node* n = v->node();
    if (n->kind() != c10::prim::GetAttr) return "";
    names.push_back(n->s(c10::attr::name));
    v = n->input(0);
  }
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) path += (path.empty() ? "" : ".") + *it;
  return path;
}

// The tensor at an attribute path of the module's object (undefined for None).
Result<at::Tensor> TensorAt(const torch::jit::Module& module, const std::string& path) {
  c10::IValue v = module._ivalue();
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string name = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!v.isObject() || !v.toObject()->type()->hasAttribute(name)) return Cannot("no attribute '" + path + "'");
    v = v.toObject()->getAttr(name);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (v.isNone()) return at::Tensor();
  if (!v.isTensor()) return Cannot("'" + path + "' is not a tensor");
  return v.toTensor();
}

// The index of `n` among the graph's top-level nodes.
size_t IndexOf(Graph& g, const Node* n) {
  size_t i = 0;
  for (const Node* m : g.nodes()) {
    if (m == n) return i;
    ++i;
  }
  return i;
}

Node* NodeAt(Graph& g, size_t index) {
  size_t i = 0;
  for (Node* m : g.nodes()) {
    if (i++ == index) return m;
  }
  return nullptr;
}

}  // namespace

Result<FirstLayerSplit> SplitAtFirstLayer(const torch::jit::Module& module) {
  std::shared_ptr<Graph> g;
  try {
    g = module.get_method("forward").graph()->copy();
    torch::jit::Inline(*g);
    // Folds branches on module constants (e.g. nn.Conv2d's padding_mode check).
    torch::jit::ConstantPropagation(g);
  } catch (const std::exception& e) {
    return Cannot("the forward graph cannot be read: " + FirstLine(e));
  }
  if (g->inputs().size() != 2) return Cannot("forward does not take exactly one input");
  Value* self = g->inputs()[0];
  Value* x = g->inputs()[1];

  // Values computed from the input and constants alone, and values that may
  // depend on the module's attributes or on control flow ("opaque").
  std::unordered_set<const Value*> data_only{x}, opaque{self};
  Node* layer = nullptr;
  for (Node* n : g->nodes()) {
    if (IsWeightedLayer(n) && data_only.count(n->input(0))) {
      layer = n;
      break;
    }
    bool from_data = false, from_opaque = !n->blocks().empty() || n->hasSideEffects();
    for (const Value* in : n->inputs()) {
      if (data_only.count(in)) from_data = true;
      if (opaque.count(in)) from_opaque = true;
    }
    for (const Value* out : n->outputs()) {
      if (from_opaque) opaque.insert(out);
      else if (from_data) data_only.insert(out);
    }
  }
  if (layer == nullptr) return Cannot("no linear or convolution layer reads the input directly");

  FirstLayerSplit split;
  const std::string weight_path = AttributePath(layer->input(1), self);
  const std::string bias_path = layer->inputs().size() > 2 ? AttributePath(layer->input(2), self) : "";
  if (weight_path.empty()) return Cannot("the first layer's weight is not an attribute of the model");
  if (bias_path.empty() && layer->inputs().size() > 2 && !layer->input(2)->mustBeNone()) {
    return Cannot("the first layer's bias is not an attribute of the model");
  }
  {
    auto w = TensorAt(module, weight_path);
    if (!w.ok()) return w.status();
    split.weight = *w;
    if (!bias_path.empty()) {
      auto b = TensorAt(module, bias_path);
      if (!b.ok()) return b.status();
      split.bias = *b;
    }
  }
  if (!split.weight.defined()) return Cannot("the first layer has no weight");
  split.layer = weight_path.substr(0, weight_path.rfind('.')) + " (" + layer->kind().toQualString() + ")";

  try {
    // The head: the input to the layer's output.
    std::shared_ptr<Graph> head = g->copy();
    Node* head_layer = NodeAt(*head, IndexOf(*g, layer));
    for (size_t i = head->outputs().size(); i-- > 0;) head->eraseOutput(i);
    head->registerOutput(head_layer->output());
    torch::jit::EliminateDeadCode(head);

    // The tail: the layer's output (a new input) to the model's output.
    std::shared_ptr<Graph> tail = g->copy();
    Node* tail_layer = NodeAt(*tail, IndexOf(*g, layer));
    Value* h = tail->addInput("h");
    h->setType(tail_layer->output()->type());
    tail_layer->output()->replaceAllUsesWith(h);
    torch::jit::EliminateDeadCode(tail);
    if (tail->inputs()[1]->hasUses()) return Cannot("the model reads its input again after the first layer");
    tail->eraseInput(1);

    split.head = std::make_shared<torch::jit::GraphFunction>("first_layer_head", head, nullptr);
    split.tail = std::make_shared<torch::jit::GraphFunction>("first_layer_tail", tail, nullptr);
  } catch (const std::exception& e) {
    return Cannot("the forward graph cannot be split: " + FirstLine(e));
  }
  return split;
}

at::Tensor RunPart(torch::jit::GraphFunction& part, const torch::jit::Module& module, const at::Tensor& input) {
  torch::jit::Stack stack{module._ivalue(), input};
  part.run(stack);
  return stack.back().toTensor();
}

}  // namespace landscape::engine
