//===- HostPrograms.h - The programs a spec's host code describes -*- C++ -*-===//
//
// A spec's generated host code describes one flowrt_program per train block
// (the stages `train` runs, in the spec's order) and one for the sampled
// flow, which carries the stages. This file decides them from a module after
// the flow passes: each program's flow, train and sample ops, the host
// functions those reach, the networks they apply (flowrt_apply's order) and
// which of those an earlier stage trains.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_TARGET_HOSTPROGRAMS_H
#define FLOWC_TARGET_HOSTPROGRAMS_H

#include "flowc/Dialect/Flow/FlowDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"

#include <string>

namespace flowc {

/// One generated program: a flow with its train and sample blocks.
struct HostProgram {
  std::string flow;
  flow::TrainOp train;   ///< null: the flow is not trained (closed-form)
  flow::SampleOp sample; ///< null: nothing to sample (a training objective)
  flow::InvertOp invert; ///< a normalizing flow's sample block (null: none)
  flow::DataOp data;     ///< what the flow draws (else the spec's first data)
  /// The network the sampler integrates (null: a closed-form or graph field).
  flow::NetworkOp velocity;
  /// The encoder tokenizer the flow draws from (`samplesTokens`), else the
  /// spec's only one; null: none.
  flow::TokenizerOp tokenizer;
  bool samplesTokens = false;
  /// The networks the program applies, in flowrt_apply's order: the flow
  /// body's in order of first application, then its host functions' others
  /// (a tokenizer's decoder); each one's index by symbol.
  llvm::SmallVector<flow::NetworkOp> networks;
  llvm::StringMap<size_t> networkIndex;
  /// The host functions its train, sample and tokenizer ops reach, in
  /// module order.
  llvm::SetVector<mlir::func::FuncOp> hosts;
  /// Networks an earlier stage trains: frozen here, by that stage's flow.
  llvm::StringMap<std::string> frozenBy;
};

/// The spec's programs: one per train block in order, then the sampled
/// flow's when no train block trains it. `mainFlow` is set to the sampled
/// flow: the last trained one with a sample block, else the last trained
/// one, else the first sampled one. Each network is trained by the first
/// stage whose training step applies it and frozen in the other programs;
/// one that no stage trains (and that is neither another run's nor a
/// TorchScript module's own) is an error.
mlir::FailureOr<llvm::SmallVector<HostProgram>> planHostPrograms(mlir::ModuleOp module,
                                                                 std::string &mainFlow);

} // namespace flowc

#endif // FLOWC_TARGET_HOSTPROGRAMS_H
