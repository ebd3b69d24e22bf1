#include "frozen_basis.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

#include "model_io.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;
using torch::jit::Node;

namespace {

Status Refuse(const std::string& why) { return Status(StatusCode::kFailedPrecondition, why); }

// Whether a constant holds tensors or objects other than as a plain tensor attribute (lists of tensors,
// packed weights of optimized CPU graphs, ...): those cannot be rewritten in place.
bool HoldsOpaque(const c10::IValue& v) {
  if (v.isTensor() || v.isObject() || v.isCapsule() || v.isFuture() || v.isRRef() || v.isEnum()) return true;
  if (v.isList()) {
    for (const c10::IValue& e : v.toListRef()) {
      if (HoldsOpaque(e)) return true;
    }
  }
  if (v.isTuple()) {
    for (const c10::IValue& e : v.toTupleRef().elements()) {
      if (HoldsOpaque(e)) return true;
    }
  }
  if (v.isGenericDict()) {
    for (const auto& kv : v.toGenericDict()) {
      if (HoldsOpaque(kv.key()) || HoldsOpaque(kv.value())) return true;
    }
  }
  return false;
}

// The tensor constants of `block` and its sub-blocks, in node order; refuses graphs that read module
// attributes (values the constants would not carry) or hold constants that cannot be rewritten.
Status CollectConstants(torch::jit::Block* block, std::vector<Node*>* out) {
  for (Node* n : block->nodes()) {
    if (n->kind() == c10::prim::GetAttr) {
      return Refuse("the frozen graph still reads module attributes ('" + n->s(c10::attr::name) + "')");
    }
    if (n->kind() == c10::prim::Constant && n->hasAttribute(c10::attr::value) &&
        n->kindOf(c10::attr::value) == torch::jit::AttributeKind::t) {
      const at::Tensor& t = n->t(c10::attr::value);
      if (t.layout() != at::kStrided) return Refuse("the frozen graph holds non-strided tensor constants");
      out->push_back(n);
    } else if (n->kind() == c10::prim::Constant) {
      const auto v = torch::jit::toIValue(n->output());
      if (v && HoldsOpaque(*v)) return Refuse("the frozen graph holds packed or composite constants");
    }
    for (torch::jit::Block* b : n->blocks()) LS_RETURN_IF_ERROR(CollectConstants(b, out));
  }
  return Status::Ok();
}

std::vector<Node*> ConstantsOf(const torch::jit::Module& m, Status* status) {
  std::vector<Node*> nodes;
  *status = CollectConstants(m.get_method("forward").graph()->block(), &nodes);
  return nodes;
}

// Strides of a dense tensor of `sizes`: channels-last for 4-D when asked, else row-major.
std::vector<int64_t> DenseStrides(at::IntArrayRef sizes, bool channels_last) {
  const size_t d = sizes.size();
  std::vector<int64_t> s(d, 1);
  if (channels_last && d == 4) {
    // [N, C, H, W] stored N, H, W, C.
    s[1] = 1;
    s[3] = sizes[1];
    s[2] = sizes[3] * sizes[1];
    s[0] = sizes[2] * s[2];
    return s;
  }
  for (size_t i = d; i-- > 1;) s[i - 1] = s[i] * std::max<int64_t>(1, sizes[i]);
  return s;
}

constexpr int64_t kAlignElements = 128;  // 256 bytes of bfloat16, 512 of float32

struct Slot {
  size_t group = 0;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

at::Tensor View(const at::Tensor& flat, const Slot& s) {
  return flat.as_strided(s.sizes, s.strides, flat.storage_offset() + s.offset);
}

}  // namespace

namespace {

using Point = std::pair<double, double>;

// Whether the constants of a freeze at `p` match those at the check point in count and shapes.
Status Mismatch(const std::vector<Node*>& other, const std::vector<Node*>& nodes, const Point& p, const Point& check) {
  if (other.size() != nodes.size()) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "the frozen graph has %zu tensor constants at (%g, %g) but %zu at (%g, %g)",
                  other.size(), p.first, p.second, nodes.size(), check.first, check.second);
    return Refuse(buf);
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (other[i]->t(c10::attr::value).sizes() != nodes[i]->t(c10::attr::value).sizes()) {
      return Refuse("the frozen graph's constants change shape between points");
    }
  }
  return Status::Ok();
}

// Where each floating constant lives: grouped by (fitted dtype, running dtype) into flat buffers, in the
// running layout.
struct Layout {
  std::vector<Slot> slots;  // per constant (integer constants: unused)
  std::vector<at::ScalarType> group_dtype, group_running;
  std::vector<int64_t> group_size;
};

Layout MakeLayout(const std::vector<Node*>& nodes, const std::vector<at::Tensor>& at_check, bool has_running,
                  const FrozenBasis::Options& options) {
  Layout l;
  l.slots.resize(nodes.size());
  std::map<std::pair<at::ScalarType, at::ScalarType>, size_t> group_of;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const at::Tensor& t = at_check[i];
    if (!at::isFloatingType(t.scalar_type())) continue;
    const at::ScalarType running = has_running ? nodes[i]->t(c10::attr::value).scalar_type()
                                   : t.scalar_type() == at::kFloat ? options.dtype
                                                                   : t.scalar_type();
    auto [it, added] = group_of.emplace(std::make_pair(t.scalar_type(), running), l.group_dtype.size());
    if (added) {
      l.group_dtype.push_back(t.scalar_type());
      l.group_running.push_back(running);
      l.group_size.push_back(0);
    }
    Slot& s = l.slots[i];
    s.group = it->second;
    // Each constant starts on a 256-byte boundary of its buffer (the allocator aligns the buffer): cuDNN's
    // vectorized kernels read weights in aligned 16-byte units and fault on misaligned ones.
    s.offset = (l.group_size[s.group] + kAlignElements - 1) / kAlignElements * kAlignElements;
    l.group_size[s.group] = s.offset;
    s.sizes.assign(t.sizes().begin(), t.sizes().end());
    s.strides = DenseStrides(t.sizes(), options.channels_last);
    l.group_size[s.group] += t.numel();
  }
  return l;
}

// The constants of freezes at each basis point, flat per group ([point][group]); integer constants
// must not move.
Status ConstantsAtPoints(const FrozenBasis::FreezeAt& freeze_at, const std::vector<Point>& points,
                         const Point& check, const std::vector<Node*>& nodes, const std::vector<at::Tensor>& at_check,
                         const Layout& layout, const c10::Device& device, std::vector<std::vector<at::Tensor>>& fits) {
  Status st;
  for (const Point& p : points) {
    torch::jit::Module m = freeze_at(p.first, p.second);
    const std::vector<Node*> other = ConstantsOf(m, &st);
    LS_RETURN_IF_ERROR(st);
    LS_RETURN_IF_ERROR(Mismatch(other, nodes, p, check));
    std::vector<at::Tensor> flat;
    for (size_t g = 0; g < layout.group_dtype.size(); ++g) {
      flat.push_back(at::zeros({layout.group_size[g]}, at::TensorOptions().dtype(layout.group_dtype[g]).device(device)));
    }
    for (size_t i = 0; i < nodes.size(); ++i) {
      const at::Tensor& t = other[i]->t(c10::attr::value);
      if (t.sizes() != at_check[i].sizes() || t.scalar_type() != at_check[i].scalar_type()) {
        return Refuse("the frozen graph's constants change shape or dtype between points");
      }
      if (!at::isFloatingType(t.scalar_type())) {
        if (!at::equal(t, at_check[i])) return Refuse("an integer constant of the frozen graph moves with the point");
        continue;
      }
      View(flat[layout.slots[i].group], layout.slots[i]).copy_(t);
    }
    fits.push_back(std::move(flat));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<FrozenBasis>> FrozenBasis::Create(const FreezeAt& freeze_at, bool two_d,
                                                         const Options& options, const FreezeAt& running_at) {
  // Exact binary fractions, away from the basis points and from any symmetry of the grid.
  const Point check = two_d ? Point{0.375, -0.625} : Point{0.375, 0.0};
  const std::vector<Point> points = two_d ? std::vector<Point>{{0, 0}, {1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}}
                                          : std::vector<Point>{{0, 0}, {1, 0}, {-1, 0}};
  std::unique_ptr<FrozenBasis> basis(new FrozenBasis());
  basis->two_d_ = two_d;
  basis->check_alpha_ = check.first;
  basis->check_beta_ = two_d ? check.second : 0.0;
  try {
    at::NoGradGuard no_grad;
    // The graph that runs, frozen at the check point, and the float32 constants there. Constants may
    // alias the model's weights, which the next freezes move: copied now.
    basis->module_ = running_at ? running_at(check.first, check.second) : freeze_at(check.first, check.second);
    Status st;
    const std::vector<Node*> nodes = ConstantsOf(basis->module_, &st);
    LS_RETURN_IF_ERROR(st);
    std::vector<at::Tensor> at_check;
    if (running_at) {
      torch::jit::Module fit_model = freeze_at(check.first, check.second);
      const std::vector<Node*> fit_nodes = ConstantsOf(fit_model, &st);
      LS_RETURN_IF_ERROR(st);
      LS_RETURN_IF_ERROR(Mismatch(fit_nodes, nodes, check, check));
      for (Node* n : fit_nodes) at_check.push_back(n->t(c10::attr::value).clone());
    } else {
      for (Node* n : nodes) at_check.push_back(n->t(c10::attr::value).clone());
    }

    const Layout layout = MakeLayout(nodes, at_check, static_cast<bool>(running_at), options);
    const std::vector<Slot>& slots = layout.slots;
    const std::vector<at::ScalarType>& group_dtype = layout.group_dtype;
    const std::vector<at::ScalarType>& group_running = layout.group_running;
    const std::vector<int64_t>& group_size = layout.group_size;
    if (group_dtype.empty()) return Refuse("the frozen graph has no floating constants");
    const c10::Device device = at_check.front().device();

    std::vector<std::vector<at::Tensor>> fits;  // [point][group]
    LS_RETURN_IF_ERROR(ConstantsAtPoints(freeze_at, points, check, nodes, at_check, layout, device, fits));

    // Coefficients: central differences along each axis, the cross term from (1, 1).
    for (size_t g = 0; g < group_dtype.size(); ++g) {
      Group grp;
      const at::Tensor& f0 = fits[0][g];
      auto axis = [&](const at::Tensor& plus, const at::Tensor& minus) {
        return std::make_pair((plus - minus).mul_(0.5), (plus + minus).mul_(0.5).sub_(f0));
      };
      auto [ca, caa] = axis(fits[1][g], fits[2][g]);
      grp.terms = {f0, ca, caa};
      if (two_d) {
        auto [cb, cbb] = axis(fits[3][g], fits[4][g]);
        at::Tensor cab = fits[5][g] - f0 - ca - cb - caa - cbb;
        grp.terms.insert(grp.terms.end(), {cb, cab, cbb});
      }
      const at::ScalarType running = group_running[g];
      grp.values = at::zeros({group_size[g]}, at::TensorOptions().dtype(running).device(device));
      if (running != group_dtype[g]) grp.scratch = at::empty_like(f0);
      basis->groups_.push_back(std::move(grp));
    }
    fits.clear();

    // The polynomial at the check point against the freeze there, constant by constant (in the fit's
    // precision: before rounding to the running dtype).
    basis->Set(check.first, check.second);
    double worst = 0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (!at::isFloatingType(at_check[i].scalar_type())) continue;
      const Group& grp = basis->groups_[slots[i].group];
      const at::Tensor fitted = View(grp.scratch.defined() ? grp.scratch : grp.values, slots[i]);
      const double scale = std::max(1e-30, at_check[i].abs().max().item<double>());
      const double diff = (fitted - at_check[i]).abs().max().item<double>() / scale;
      if (!(diff <= options.tolerance)) {
        char buf[200];
        std::snprintf(buf, sizeof buf,
                      "the frozen constants are not quadratic in the point (a %s constant is off by %.2g of its "
                      "scale at the check point)",
                      at::toString(at_check[i].scalar_type()), diff);
        return Refuse(buf);
      }
      worst = std::max(worst, diff);
    }

    // The running graph's constants become views into the flat buffers.
    int64_t values = 0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (!at::isFloatingType(at_check[i].scalar_type())) continue;
      at::Tensor view = View(basis->groups_[slots[i].group].values, slots[i]);
      nodes[i]->t_(c10::attr::value, view);
      nodes[i]->output()->inferTypeFrom(view);
      values += view.numel();
    }
    char buf[200];
    std::snprintf(buf, sizeof buf, "%zu constants (%lld values) in %s, fitted to %.1g of their scale", nodes.size(),
                  static_cast<long long>(values), at::toString(group_running.front()), worst);
    basis->description_ = buf;
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, "cannot fit the frozen constants: " + FirstLine(e));
  }
  return basis;
}

void FrozenBasis::Set(double alpha, double beta) {
  c10::InferenceMode guard;
  for (Group& g : groups_) {
    at::Tensor& out = g.scratch.defined() ? g.scratch : g.values;
    at::add_out(out, g.terms[0], g.terms[1], alpha);
    out.add_(g.terms[2], alpha * alpha);
    if (two_d_) {
      out.add_(g.terms[3], beta);
      out.add_(g.terms[4], alpha * beta);
      out.add_(g.terms[5], beta * beta);
    }
    if (g.scratch.defined()) g.values.copy_(g.scratch);
  }
}

}  // namespace landscape::engine
