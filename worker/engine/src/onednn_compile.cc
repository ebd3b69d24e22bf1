// The frozen graph compiled onto the engine's own oneDNN layers (OnednnNet::Impl::Compile and its steps).
#include "onednn_net_impl.h"

#if LANDSCAPE_WITH_ONEDNN

namespace landscape::engine {

int OnednnNet::Impl::NewSlot(const Dims& d) {
  slot_dims.push_back(d);
  return static_cast<int>(slot_dims.size()) - 1;
}

Status OnednnNet::Impl::Compile(torch::jit::Graph& g) {
  if (g.inputs().size() != 2 || g.outputs().size() != 1) return Unsupported("forward must take and return one tensor");
  if (g.inputs()[0]->hasUses()) return Unsupported("the frozen graph still reads module attributes");
  GraphWalk w;
  w.x = g.inputs()[1];
  w.nodes = NodesInOrder(g);
  node_count = w.nodes.size();
  for (size_t i = 0; i < w.nodes.size(); ++i) {
    w.pos[w.nodes[i]] = i;
    kinds.push_back(w.nodes[i]->kind());
  }
  w.consumed.assign(w.nodes.size(), false);
  size_t cut = w.nodes.size();
  for (size_t i = 0; i < w.nodes.size() && cut == w.nodes.size(); ++i) {
    Node* n = w.nodes[i];
    if (w.consumed[i] || n->kind() == kConstant) continue;
    if (MatchPool(w, i)) continue;
    bool matched = false;
    LS_RETURN_IF_ERROR(MatchConv(g, w, i, &matched));
    if (!matched) {
      cut = i;
      break;
    }
  }
  if (convs.empty()) return Unsupported("the model does not start with a convolution of its input");
  for (size_t i = cut; i < w.nodes.size(); ++i) tail_convolutions += w.nodes[i]->kind() == kConv2d ? 1 : 0;
  std::vector<int> last_use;
  LS_RETURN_IF_ERROR(CompileTail(g, w, cut, last_use));
  AssignBuffers(last_use);
  return Status::Ok();
}

bool OnednnNet::Impl::MatchPool(GraphWalk& w, size_t i) {
  Node* n = w.nodes[i];
  if (n->kind() != kMaxPool2d || n->inputs().size() != 6 || !w.slot_of.count(n->inputs()[0])) return false;
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
    P.src = w.slot_of[n->inputs()[0]];
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
      P.dst = NewSlot(P.out);
      w.slot_of[n->outputs()[0]] = P.dst;
      ++pools;
      convs.push_back(P);
      return true;
    }
  }
  return false;
}

Status OnednnNet::Impl::MatchConv(torch::jit::Graph& g, GraphWalk& gw, size_t i, bool* matched) {
  Node* n = gw.nodes[i];
  const Dims input_dims{sample_shape[0], sample_shape[1], sample_shape[2]};
  // A convolution of the input or of an activation in a oneDNN buffer, with constant weights.
  bool ok = n->kind() == kConv2d && n->inputs().size() == 7 && n->outputs().size() == 1 && n->blocks().empty();
  ConvLayer L;
  L.node = i;
  if (ok) {
    const Value* in = n->inputs()[0];
    if (in == gw.x) {
      L.src = -1;
      L.in = input_dims;
    } else if (gw.slot_of.count(in)) {
      L.src = gw.slot_of[in];
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
    *matched = false;
    return Status::Ok();
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
  Node* user = SingleUser(out);
  const Value* result = out;  // the value the layer's buffer holds in the end
  if (IsRelu(user) && gw.pos[user] > i) {
    L.relu = true;
    gw.consumed[gw.pos[user]] = true;
    result = user->outputs()[0];
    ++fused_relus;
  } else if (user && (user->kind() == kAdd || user->kind() == kAddInPlace) && user->inputs().size() == 3) {
    auto alpha = torch::jit::toIValue(user->inputs()[2]);
    const Value* r = user->inputs()[0] == out ? user->inputs()[1] : user->inputs()[0];
    bool fuse = alpha && ((alpha->isInt() && alpha->toInt() == 1) || (alpha->isDouble() && alpha->toDouble() == 1.0)) &&
                r != out && gw.slot_of.count(r) && slot_dims[static_cast<size_t>(gw.slot_of[r])] == L.out &&
                r != g.outputs()[0];
    for (const torch::jit::Use& u : r->uses()) {
      if (u.user != user && gw.pos[u.user] >= i) fuse = false;  // read after the convolution overwrites it
    }
    if (fuse) {
      L.sum = true;
      L.dst = gw.slot_of[r];
      gw.consumed[gw.pos[user]] = true;
      result = user->outputs()[0];
      ++fused_adds;
      Node* after = SingleUser(result);
      if (IsRelu(after)) {
        L.relu = true;
        gw.consumed[gw.pos[after]] = true;
        result = after->outputs()[0];
        ++fused_relus;
      }
    }
  }
  if (!L.sum) L.dst = NewSlot(L.out);
  gw.slot_of[result] = L.dst;
  convs.push_back(L);
  *matched = true;
  return Status::Ok();
}

Status OnednnNet::Impl::CompileTail(torch::jit::Graph& g, GraphWalk& w, size_t cut, std::vector<int>& last_use) {
  // LibTorch's part: every node from the cut on that was not fused, reading constants, the input, oneDNN
  // activations (converted once) and its own outputs.
  std::unordered_map<const Value*, int> env_of{{w.x, 0}};
  last_use.assign(slot_dims.size(), -1);  // last conv step reading or writing each virtual slot
  for (size_t s = 0; s < convs.size(); ++s) {
    if (convs[s].src >= 0) last_use[static_cast<size_t>(convs[s].src)] = static_cast<int>(s);
    last_use[static_cast<size_t>(convs[s].dst)] = static_cast<int>(s);
  }
  const int kForever = std::numeric_limits<int>::max();
  auto env_for = [&](const Value* v) -> std::optional<int> {
    if (auto it = env_of.find(v); it != env_of.end()) return it->second;
    if (auto it = w.slot_of.find(v); it != w.slot_of.end()) {
      conversions.push_back(Conversion{it->second, env_size});
      last_use[static_cast<size_t>(it->second)] = kForever;
      env_of[v] = env_size;
      return env_size++;
    }
    return std::nullopt;
  };
  for (size_t i = cut; i < w.nodes.size(); ++i) {
    Node* n = w.nodes[i];
    if (w.consumed[i] || n->kind() == kConstant) continue;
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
  return Status::Ok();
}

void OnednnNet::Impl::AssignBuffers(const std::vector<int>& last_use) {
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
}

}  // namespace landscape::engine

#endif  // LANDSCAPE_WITH_ONEDNN
