#include "onednn_net.h"

#include "onednn_net_impl.h"  // empty without LANDSCAPE_WITH_ONEDNN

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
