//===- Partition.cpp - A per-sample body cut at its network applications --===//
//
// FlowGraph (Partition.h): levels by network depth, the gradient's reach,
// and the regions that become kernels; outlineGraph, the kernels and the
// host schedule that runs them with the networks.
//
//===----------------------------------------------------------------------===//
#include "Partition.h"
#include "Outlining.h"

#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

bool flowc::isConstantValue(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return false;
  if (def->hasTrait<OpTrait::ConstantLike>())
    return true;
  // Computed from constants alone (a quantiser's levels, their halves and
  // shifts): as cheap to recompute as to pass, and the same in every row.
  return def->getNumOperands() > 0 && def->getNumRegions() == 0 &&
         isMemoryEffectFree(def) && !isHostApplication(def) &&
         llvm::all_of(def->getOperands(), isConstantValue);
}

bool flowc::isNetworkApplication(Operation *op) {
  return isa<fl::ApplyNetOp, fl::ApplyNetJvpOp>(op);
}

bool flowc::isHostApplication(Operation *op) {
  return isNetworkApplication(op) || isa<fl::BatchAverageOp>(op);
}

/// Whether `op` computes only booleans (a comparison, and/or of them).
static bool isPredicate(Operation &op) {
  return op.getNumResults() > 0 && op.getNumRegions() == 0 && isMemoryEffectFree(&op) &&
         llvm::all_of(op.getResultTypes(), [](Type t) { return t.isInteger(1); });
}

/// Gives every predicate one user, cloning it before each further one, so
/// that it can be computed in its user's region: kernels pass f32 values
/// between regions, not booleans (`loss where(q < 0.75, a, b)` with a and b
/// after a network, q drawn before).
static void clonePredicatesPerUser(Block &body) {
  SmallVector<Operation *> predicates;
  for (Operation &op : body)
    if (isPredicate(op))
      predicates.push_back(&op);
  for (Operation *op : llvm::reverse(predicates)) {
    SmallVector<OpOperand *> uses;
    for (OpOperand &use : op->getUses())
      uses.push_back(&use);
    for (size_t i = 1; i < uses.size(); ++i) {
      OpOperand *use = uses[i];
      OpBuilder b(use->getOwner());
      use->set(b.clone(*op)->getResult(cast<OpResult>(use->get()).getResultNumber()));
    }
  }
}

FlowGraph::FlowGraph(Block &body) : body(body) {
  clonePredicatesPerUser(body);
  for (Operation &op : body) {
    unsigned level = 0;
    bool grad = false;
    for (Value v : op.getOperands()) {
      if (Operation *def = v.getDefiningOp())
        level = std::max(level, levels.lookup(def));
      grad |= gradient.contains(v);
    }
    // A network's output carries a gradient (its parameters train), a
    // frozen network's when an argument does; sg stops one; other ops pass
    // their operands'.
    if (isHostApplication(&op))
      ++level;
    if (isNetworkApplication(&op)) {
      auto net = SymbolTable::lookupNearestSymbolFrom<fl::NetworkOp>(
          &op, op.getAttrOfType<FlatSymbolRefAttr>("network"));
      grad |= !net || !net.isFrozen();
    } else if (isa<fl::StopGradientOp>(op)) {
      grad = false;
    }
    levels[&op] = level;
    depth = std::max(depth, level);
    if (grad)
      for (Value r : op.getResults())
        gradient.insert(r);
  }
  // A predicate joins its one user's region (users come later, so last
  // first): its operands cross to that region instead, as f32 values.
  for (Operation &op : llvm::reverse(body))
    if (isPredicate(op) && op.hasOneUse() && !isHostApplication(*op.user_begin()))
      levels[&op] = std::max(levels[&op], levels.lookup(*op.user_begin()));
}

bool FlowGraph::lossGradientReaches(Value v) const {
  SmallVector<Value> work{v};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value x = work.pop_back_val();
    if (!seen.insert(x).second)
      continue;
    for (Operation *user : x.getUsers()) {
      if (isa<fl::StopGradientOp>(user))
        continue;
      if (isa<fl::LossOp>(user))
        return true;
      llvm::append_range(work, user->getResults());
    }
  }
  return false;
}

SmallVector<Operation *> FlowGraph::applicationsAt(unsigned level) const {
  SmallVector<Operation *> nets;
  for (Operation &op : body)
    if (isHostApplication(&op) && levels.lookup(&op) == level)
      nets.push_back(&op);
  return nets;
}

SmallVector<GraphRegion> FlowGraph::regions() const {
  SmallVector<GraphRegion> result;
  for (unsigned level = 0; level <= depth; ++level) {
    GraphRegion r{level, {}, {}, nullptr};
    llvm::SetVector<Value> inputs, outputs;
    for (Operation &op : body) {
      bool inside = inRegion(&op, level);
      for (Value v : op.getOperands()) {
        Operation *def = v.getDefiningOp();
        bool fromInside = def && inRegion(def, level);
        // A constant is recomputed by any region that uses it, but a network
        // or the loss takes it from a buffer.
        bool recomputed = isConstantValue(v) && inRegion(&op, levels.lookup(&op));
        if (inside && !fromInside && !isConstantValue(v))
          inputs.insert(v);
        else if (!inside && fromInside && !recomputed && !isa<fl::TimeOp, fl::SourceOp>(op))
          outputs.insert(v);
      }
    }
    if (outputs.empty())
      continue;
    // Data first, as drawn (each point, then its label and condition).
    for (auto draw : body.getOps<fl::DrawDataOp>())
      for (Value v : draw->getResults())
        if (inputs.contains(v))
          r.inputs.push_back(v);
    for (Value v : inputs)
      if (!v.getDefiningOp<fl::DrawDataOp>())
        r.inputs.push_back(v);
    r.outputs.assign(outputs.begin(), outputs.end());
    result.push_back(std::move(r));
  }
  return result;
}

bool FlowGraph::inRegion(Operation *op, unsigned level) const {
  return op->getNumResults() > 0 && !isHostApplication(op) && !isa<fl::DrawDataOp>(op) &&
         levels.lookup(op) == level;
}

FailureOr<SmallVector<GraphRegion>>
flowc::outlineGraph(ModuleOp module, Block &body, const FlowGraph &graph,
                    function_ref<std::string(unsigned)> kernelName, OpBuilder &b,
                    Location loc, Value rows, Value step, IRMapping &onHost) {
  SmallVector<GraphRegion> regions = graph.regions();
  for (GraphRegion &r : regions) {
    r.kernel = outlineKernel(module, body, kernelName(r.level), r.inputs, r.outputs, loc);
    if (!r.kernel)
      return failure();
  }
  // The host function after its kernels, as a reader expects.
  Operation *host = b.getInsertionBlock()->getParentOp();
  if (host->getParentOp() == module)
    host->moveBefore(module.getBody(), module.getBody()->end());
  // A level may have no region (a network applied to data as drawn).
  for (unsigned level = 0; level <= graph.deepestLevel(); ++level) {
    for (const GraphRegion &r : regions) {
      if (r.level != level)
        continue;
      SmallVector<Value> args;
      for (Value in : r.inputs)
        args.push_back(onHost.lookup(in));
      SmallVector<Type> types;
      for (Value out : r.outputs)
        types.push_back(batchedType(out.getType()));
      auto launch = fl::LaunchOp::create(b, loc, types, SymbolRefAttr::get(r.kernel), rows,
                                         step, args);
      onHost.map(r.outputs, launch.getResults());
    }
    auto batches = [&](ValueRange values) {
      SmallVector<Value> out;
      for (Value v : values)
        out.push_back(onHost.lookup(v));
      return out;
    };
    for (Operation *op : graph.applicationsAt(level + 1)) {
      if (auto net = dyn_cast<fl::ApplyNetOp>(op))
        onHost.map(net.getResult(), fl::NetOp::create(b, loc, batchedType(net.getType()),
                                                       net.getNetworkAttr(),
                                                       batches(net.getArgs())));
      else if (auto jvp = dyn_cast<fl::ApplyNetJvpOp>(op)) {
        auto onBatch = fl::NetJvpOp::create(b, loc, batchedType(jvp.getType()),
                                             jvp.getNetworkAttr(), batches(jvp.getArgs()),
                                             batches(jvp.getTangents()));
        onBatch.setConstant(!graph.lossGradientReaches(jvp.getResult()));
        onHost.map(jvp.getResult(), onBatch.getResult());
      } else if (auto avg = dyn_cast<fl::BatchAverageOp>(op)) {
        Value in = onHost.lookup(avg.getInput());
        onHost.map(avg.getResult(), fl::RowsMeanOp::create(b, loc, in.getType(), in));
      }
    }
  }
  return regions;
}
