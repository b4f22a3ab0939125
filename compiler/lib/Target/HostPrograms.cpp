//===- HostPrograms.cpp - The programs a spec's host code describes -------===//
//
// Implements HostPrograms.h.
//
//===----------------------------------------------------------------------===//
#include "HostPrograms.h"

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

namespace {

/// Adds to `hosts` the host functions `op`'s attributes name and,
/// transitively, those they call.
void collectHosts(ModuleOp module, Operation *op, llvm::SetVector<func::FuncOp> &hosts) {
  if (!op)
    return;
  SmallVector<func::FuncOp> work;
  auto visit = [&](SymbolRefAttr ref) {
    auto fn = module.lookupSymbol<func::FuncOp>(ref);
    if (fn && fn->hasAttr(fl::kHostAttr) && hosts.insert(fn))
      work.push_back(fn);
  };
  if (auto fn = dyn_cast<func::FuncOp>(op))
    visit(SymbolRefAttr::get(fn));
  else
    op->getAttrDictionary().walk([&](FlatSymbolRefAttr ref) { visit(ref); });
  while (!work.empty())
    work.pop_back_val().walk([&](func::CallOp call) { visit(call.getCalleeAttr()); });
}

/// Appends to `program`'s networks those applied in `hosts` it lacks.
void appendNetworks(ModuleOp module, HostProgram &program,
                    const llvm::SetVector<func::FuncOp> &hosts) {
  for (func::FuncOp fn : hosts)
    fn.walk([&](Operation *op) {
      if (!isa<fl::NetOp, fl::NetJvpOp, fl::NetGuidedOp, fl::NetWeightsOp>(op))
        return;
      auto net = module.lookupSymbol<fl::NetworkOp>(
          op->getAttrOfType<FlatSymbolRefAttr>("network"));
      if (net && !program.networkIndex.count(net.getSymName())) {
        program.networkIndex[net.getSymName()] = program.networks.size();
        program.networks.push_back(net);
      }
    });
}

/// A program's data, host functions and networks, and the network its
/// sampler integrates. A program gets the tokenizer its flow draws from;
/// the one the user runs (`mainFlow`'s) else the spec's only one, for
/// `encode` and `reconstruct` (an earlier stage's would load networks
/// that later stages train).
LogicalResult plan(ModuleOp module, HostProgram &program, StringRef mainFlow) {
  auto flowOp = module.lookupSymbol<fl::FlowOp>(program.flow);
  if (auto named = flowOp ? flowOp.getTokenizerAttr() : FlatSymbolRefAttr()) {
    program.tokenizer = module.lookupSymbol<fl::TokenizerOp>(named);
    program.samplesTokens = program.tokenizer != nullptr;
  } else if (program.flow == mainFlow &&
             llvm::hasSingleElement(module.getOps<fl::TokenizerOp>())) {
    program.tokenizer = *module.getOps<fl::TokenizerOp>().begin();
  }
  llvm::SetVector<func::FuncOp> reached;
  collectHosts(module, program.train, reached);
  collectHosts(module, program.sample, reached);
  collectHosts(module, program.tokenizer, reached);
  // Module order, so that callees keep their place before callers.
  for (auto fn : module.getOps<func::FuncOp>())
    if (reached.contains(fn))
      program.hosts.insert(fn);
  if (flowOp)
    for (Operation &op : flowOp.getBody().front()) {
      if (auto draw = dyn_cast<fl::DrawDataOp>(op); draw && !program.data)
        program.data = module.lookupSymbol<fl::DataOp>(draw.getDataAttr());
      if (!isa<fl::ApplyNetOp, fl::ApplyNetJvpOp>(op))
        continue;
      auto net =
          module.lookupSymbol<fl::NetworkOp>(op.getAttrOfType<FlatSymbolRefAttr>("network"));
      if (net && !program.networkIndex.count(net.getSymName())) {
        program.networkIndex[net.getSymName()] = program.networks.size();
        program.networks.push_back(net);
      }
    }
  if (!program.data) // a flow that draws no data: the spec's first
    for (auto d : module.getOps<fl::DataOp>())
      if (!program.data)
        program.data = d;
  appendNetworks(module, program, program.hosts);
  if (program.train && program.networks.empty())
    return program.train.emitError("a trained flow needs a network");
  // The sampler integrates the flow's network when it applies one (MLIRGen
  // names it when the flow applies others too).
  fl::SampleOp sample = program.sample;
  if (sample && !sample.getVelocity() && !sample.getVelocityGraph() && !sample.getMapStep()) {
    if (auto named = sample.getNetworkAttr())
      program.velocity = module.lookupSymbol<fl::NetworkOp>(named);
    else if (program.networks.size() == 1 && program.networks[0].isVelocity())
      program.velocity = program.networks[0];
  }
  return success();
}

/// Each network is trained by the first stage whose training step applies
/// it, and frozen in every other program that applies it (a standardize
/// network's statistics are "trained" so, by the runtime as the stage starts).
LogicalResult assignStages(ModuleOp module, SmallVectorImpl<HostProgram> &programs) {
  llvm::StringMap<std::string> trainedBy;
  for (HostProgram &program : programs) {
    if (!program.train)
      continue;
    llvm::SetVector<func::FuncOp> step;
    if (auto loss = module.lookupSymbol<func::FuncOp>(program.train.getTrainLossAttr()))
      collectHosts(module, loss, step);
    HostProgram trained;
    appendNetworks(module, trained, step);
    for (fl::NetworkOp net : trained.networks)
      if (!net.isFrozen())
        trainedBy.try_emplace(net.getSymName(), program.flow);
  }
  // A tokenizer's unstandardize network only decodes; the stage that sets
  // its standardize network's statistics sets its too.
  for (auto tok : module.getOps<fl::TokenizerOp>())
    if (auto net = tok.getStandardize(); net && trainedBy.count(*net))
      trainedBy.try_emplace(*tok.getUnstandardize(), trainedBy.lookup(*net));
  for (HostProgram &program : programs)
    for (fl::NetworkOp net : program.networks) {
      auto it = trainedBy.find(net.getSymName());
      if (it != trainedBy.end() && it->second != program.flow)
        program.frozenBy[net.getSymName()] = it->second;
      else if (it == trainedBy.end() && !trainedBy.empty() && !net.isFrozen() &&
               net.getKind() != "torchscript")
        return net.emitError("network '")
               << net.getSymName() << "' is applied by flow '" << program.flow
               << "' but no train block trains it";
    }
  return success();
}

} // namespace

FailureOr<SmallVector<HostProgram>> flowc::planHostPrograms(ModuleOp module,
                                                            std::string &mainFlow) {
  SmallVector<fl::TrainOp> trains(module.getOps<fl::TrainOp>());
  auto sampleOf = [&](StringRef flow) {
    for (auto s : module.getOps<fl::SampleOp>())
      if (s.getFlow() == flow)
        return s;
    return fl::SampleOp();
  };
  auto invertOf = [&](StringRef flow) {
    for (auto s : module.getOps<fl::InvertOp>())
      if (s.getFlow() == flow)
        return s;
    return fl::InvertOp();
  };
  auto sampled = [&](StringRef flow) { return sampleOf(flow) || invertOf(flow); };
  mainFlow.clear();
  for (fl::TrainOp t : trains)
    if (sampled(t.getFlow()) || mainFlow.empty() || !sampled(mainFlow))
      mainFlow = t.getFlow().str();
  if (mainFlow.empty())
    for (auto s : module.getOps<fl::SampleOp>())
      if (mainFlow.empty())
        mainFlow = s.getFlow().str();
  if (mainFlow.empty())
    return module.emitError("the spec needs a train or a sample block");
  SmallVector<HostProgram> programs;
  for (fl::TrainOp t : trains) {
    programs.emplace_back();
    programs.back().flow = t.getFlow().str();
    programs.back().train = t;
    programs.back().sample = sampleOf(t.getFlow());
    programs.back().invert = invertOf(t.getFlow());
  }
  if (llvm::none_of(programs, [&](const HostProgram &p) { return p.flow == mainFlow; })) {
    programs.emplace_back();
    programs.back().flow = mainFlow;
    programs.back().sample = sampleOf(mainFlow);
  }
  for (HostProgram &program : programs)
    if (failed(plan(module, program, mainFlow)))
      return failure();
  if (failed(assignStages(module, programs)))
    return failure();
  return programs;
}
