// The path selector: builds the forward paths (forward_path.h) a point can run on, measures them and
// keeps one, with the batch size and the lanes, and one description of the choice (PathChoice).
//
// SelectPath runs its steps in a fixed order, each seeing the path the steps before it chose:
//   batches (auto batch size) → optimization (frozen or module) → onednn → cuda_graphs (fitted graph)
//   → first_layer → data_parallel (lanes).
// Each step lives in the file of the path it may turn on, and is registered in path_selector.cc's list;
// a new path is a new file with its ForwardPath class and its step, and one line in that list.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "eval_state.h"
#include "evaluator.h"
#include "forward_path.h"

namespace landscape::engine {

enum class PathKind { kModule, kFrozen, kOnednn, kFitted, kFirstLayer };

/// What the steps share while they choose: the path chosen so far and what earlier steps measured.
struct Selecting {
  Selecting(EvalState& s, const EvalOptions& o) : state(s), options(o) {}

  EvalState& state;
  const EvalOptions& options;
  /// LibTorch's path: frozen per point while choice.optimized, else the module; always set.
  std::unique_ptr<BatchForwardPath> libtorch;
  /// The path chosen over it (onednn, fitted, first_layer), when one is.
  std::unique_ptr<ForwardPath> other;
  PathKind kind = PathKind::kModule;
  PathChoice choice;  // flags and notes so far (choice.optimized: freezing, per point or fitted)
  /// Measured time of one batch on the chosen path (0: not measured).
  double batch_seconds = 0;
  /// Auto batch: whether lanes (true) or operators on all threads were faster at the chosen batch; reset
  /// when a later step changes the path points take.
  std::optional<bool> lanes_measured;
  LaneSlot lanes;  // the lanes' threads, started at their first use

  ForwardPath& chosen() { return other ? *other : *libtorch; }
  /// Sets libtorch to the frozen path when choice.optimized, else to the module (path_frozen.cc).
  void UseLibTorch();
  /// libtorch prepared for the point the weights hold; a model that cannot be frozen turns freezing off
  /// (choice.optimized false, choice.optimize_failure why) and falls back to the module.
  BatchForwardPath& PrepareLibTorch();
  /// The chosen path prepared for the point the weights hold (as PrepareLibTorch for LibTorch's path).
  ForwardPath& PrepareChosen();
};

/// The selector's steps (see the file comment), each in its path's file.
void ChooseBatches(Selecting& s);       // batch_choice.cc: auto batch size, then the batches
void DecideOptimization(Selecting& s);  // path_frozen.cc
void DecideOnednn(Selecting& s);        // path_onednn.cc
void DecideCudaGraphs(Selecting& s);    // path_fitted_graph.cc
void DecideFirstLayer(Selecting& s);    // path_first_layer.cc
void DecideDataParallel(Selecting& s);  // batch_choice.cc

/// The module as loaded, or its reduced-precision copy refreshed per point (path_module.cc).
std::unique_ptr<BatchForwardPath> MakeModulePath(EvalState& state);

/// The chosen path, with the lanes' threads (when lanes > 1) and the description of the choice.
struct Selection {
  std::unique_ptr<ForwardPath> path;
  LaneSlot lanes;
  PathChoice choice;
};

/// Runs the steps on `state` (its inputs set; batches made here) under `options`. Throws on failures
/// of LibTorch (the caller reports them).
Selection SelectPath(EvalState& state, const EvalOptions& options);

}  // namespace landscape::engine
