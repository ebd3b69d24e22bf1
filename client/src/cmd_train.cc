// `landscape train`, `landscape archs`, `landscape export-arch`.
#include <cstdio>
#include <sstream>

#include "commands.h"
#include "exit_codes.h"
#include "landscape/engine/train.h"

namespace landscape::client {

int RunTrain(const TrainCmdOptions& o) {
  engine::TrainOptions t;
  t.arch = o.arch;
  t.data.source = o.data;
  t.data.normalize = o.normalize;
  t.data.max_samples = o.max_samples;
  if (auto src = core::ParseDataSource(o.data, "--data"); !src.ok()) return Report(src.status());
  if (auto n = core::ParseNormalization(o.normalize, "--normalize"); !n.ok()) return Report(n.status());
  t.epochs = o.epochs;
  t.batch_size = o.batch_size;
  t.lr = o.lr;
  t.optimizer = o.optimizer;
  t.momentum = o.momentum;
  t.beta1 = o.betas.at(0);
  t.beta2 = o.betas.at(1);
  t.eps = o.eps;
  t.nesterov = !o.no_nesterov;
  t.weight_decay = o.weight_decay;
  t.lr_steps = o.lr_steps;
  t.lr_decay = o.lr_decay;
  t.save_every = o.save_every;
  t.out_dir = o.out;
  t.seed = o.seed;
  t.augment = o.augment;
  t.eval_samples = o.eval_samples;
  auto loss = core::ParseLoss(o.loss, "--loss");
  if (!loss.ok()) return Report(loss.status());
  t.loss = *loss;
  t.device = o.engine.device;
  t.threads = o.engine.threads;
  t.data_root = o.engine.data_root;
  std::fprintf(stderr, "landscape: training %s on %s for %lld epochs -> %s\n", o.arch.c_str(), o.data.c_str(),
               static_cast<long long>(o.epochs), o.out.c_str());
  auto r = engine::Train(t, [](const engine::EpochLog& e) {
    if (e.epoch == 0) {
      std::fprintf(stderr, "epoch %3lld  (init)%s", static_cast<long long>(e.epoch),
                   e.test_acc >= 0 ? "" : "\n");
    } else {
      std::fprintf(stderr, "epoch %3lld  lr %.4g  train loss %.4f acc %.2f%%", static_cast<long long>(e.epoch), e.lr,
                   e.train_loss, e.train_acc);
    }
    if (e.test_acc >= 0) std::fprintf(stderr, "  test loss %.4f acc %.2f%%", e.test_loss, e.test_acc);
    if (e.epoch > 0) std::fprintf(stderr, "  %.1fs", e.seconds);
    std::fprintf(stderr, "%s\n", e.checkpoint.empty() ? "" : ("  -> " + e.checkpoint).c_str());
  });
  if (!r.ok()) return Report(r.status());
  std::printf("%s\n", r->final_model.c_str());
  return kExitOk;
}

int RunArchs() {
  for (const auto& [name, desc] : engine::ArchitectureNames()) std::printf("%-16s %s\n", name.c_str(), desc.c_str());
  return kExitOk;
}

int RunExportArch(const ExportArchOptions& o) {
  std::vector<int64_t> shape;
  std::stringstream ss(o.input);
  std::string part;
  while (std::getline(ss, part, 'x')) {
    try {
      shape.push_back(std::stoll(part));
    } catch (...) {
      shape.clear();
      break;
    }
  }
  if (shape.size() != 3) return Report(core::InvalidArgument("--input", "expected CxHxW, e.g. 1x28x28"));
  core::Status s = engine::ExportArchitecture(o.arch, shape, o.classes, o.seed, o.out);
  if (!s.ok()) return Report(s);
  std::printf("%s\n", o.out.c_str());
  return kExitOk;
}

}  // namespace landscape::client
