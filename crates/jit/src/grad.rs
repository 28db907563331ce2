//! One row's error and gradient as a native function over gathered values: the kernel
//! of training over parameter tables (collaborative filtering, embeddings), where each
//! row reads its own parameters out of a table and the caller scatters the gradient back.

use std::sync::Arc;

use cranelift_codegen::ir::{
    types, AbiParam, InstBuilder, MemFlags, StackSlotData, StackSlotKind, Value,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::Module;
use gradsheet_engine::Tape;

use crate::emit::{emit_row, emit_row_in_memory, exact, Calls, Ir, Var, IN_MEMORY_FROM};
use crate::native::{new_module, MidEnd, Native};
use crate::CompileError;

/// The largest scratch room a kernel keeps on its stack (8,192 slots): a thread's stack
/// is 2 MB or more; a larger tape's row stays in registers.
const MAX_SCRATCH: usize = 64 * 1024;

/// `fn(vars, grads) -> output`.
type GradFn = unsafe extern "C" fn(*const f64, *mut f64) -> f64;

/// A tape's output `which` and its gradient with respect to a run of variable slots,
/// compiled: `call(vars, grads)` is [`Tape::forward`] then [`Tape::backward`], bit for
/// bit, without the interpreter's dispatch.
#[derive(Clone)]
pub struct GradKernel {
    native: Arc<Native>,
    /// The interpreter, for the rows whose compiled gradient is NaN (see `emit`'s docs:
    /// the compiled code does not test for zero adjoints).
    tape: Arc<Tape>,
    which: usize,
    wrt: std::ops::Range<usize>,
    n_vars: usize,
}

impl std::fmt::Debug for GradKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GradKernel")
            .field("n_vars", &self.n_vars)
            .field("wrt", &self.wrt)
            .finish()
    }
}

impl GradKernel {
    /// Compiles output `which` of `tape` and its gradient with respect to the variable
    /// slots `wrt`.
    ///
    /// # Errors
    ///
    /// [`CompileError::Unsupported`] for an output or slot out of range;
    /// [`CompileError::Backend`] if Cranelift fails.
    pub fn compile(
        tape: &Tape,
        which: usize,
        wrt: std::ops::Range<usize>,
    ) -> Result<GradKernel, CompileError> {
        let nv = tape.n_vars();
        if which >= tape.outputs().len() || wrt.end > nv {
            return Err(CompileError::Unsupported(
                "output or variables out of range".into(),
            ));
        }
        let mut module = new_module(MidEnd::Skip)?;
        let mut ctx = module.make_context();
        let ptr = module.target_config().pointer_type();
        ctx.func.signature.params.push(AbiParam::new(ptr));
        ctx.func.signature.params.push(AbiParam::new(ptr));
        ctx.func.signature.returns.push(AbiParam::new(types::F64));
        let calls = Calls::declare(&mut module, &mut ctx.func)?;
        let mut fctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let mem = MemFlags::trusted();
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let (vp, gp) = (b.block_params(entry)[0], b.block_params(entry)[1]);
        let slots: Vec<u32> = wrt.clone().map(|s| s as u32).collect();
        // Many variables: the row in memory (see `emit_row_in_memory`), its values in a
        // stack slot — up to a size any thread's stack affords.
        let scratch_bytes = 8 * tape.n_slots();
        let in_memory = slots.len() >= IN_MEMORY_FROM && scratch_bytes <= MAX_SCRATCH;
        let out = if in_memory {
            let slot = b.create_sized_stack_slot(StackSlotData::new(
                StackSlotKind::ExplicitSlot,
                scratch_bytes as u32,
                3,
            ));
            let scratch = b.ins().stack_addr(ptr, slot, 0);
            let vars: Vec<Var> = (0..nv).map(|k| Var::At(vp, (8 * k) as i32)).collect();
            let mut ir = Ir {
                b: &mut b,
                calls: &calls,
            };
            emit_row_in_memory(
                &mut ir,
                tape,
                &vars,
                scratch,
                tape.output(which),
                &slots,
                &mut |ir, k, raw, canon| {
                    let g = exact(ir, raw, canon);
                    ir.b.ins().store(mem, g, gp, (8 * k) as i32);
                },
            )
        } else {
            let vars: Vec<Value> = (0..nv)
                .map(|k| b.ins().load(types::F64, mem, vp, (8 * k) as i32))
                .collect();
            let mut ir = Ir {
                b: &mut b,
                calls: &calls,
            };
            let mut row = emit_row(&mut ir, tape, &vars, tape.output(which), &slots);
            for k in 0..slots.len() {
                let g = row.exact(&mut ir, k);
                ir.b.ins().store(mem, g, gp, (8 * k) as i32);
            }
            row.vals[tape.output(which) as usize]
        };
        b.ins().return_(&[out]);
        b.finalize();
        let native = Native::finish(module, &mut ctx, "grad")?;
        Ok(GradKernel {
            native: Arc::new(native),
            tape: Arc::new(tape.clone()),
            which,
            wrt,
            n_vars: nv,
        })
    }

    /// The output for the variable values `vars`, with the gradient written to `grads`.
    ///
    /// A row whose compiled gradient has a NaN is recomputed by the interpreter (which
    /// allocates), so that the result is the interpreter's either way.
    ///
    /// # Panics
    ///
    /// If `vars` has fewer values than the tape has variables, or `grads` fewer than
    /// the slots the kernel differentiates for (checked before the native code runs).
    #[inline]
    pub fn call(&self, vars: &[f64], grads: &mut [f64]) -> f64 {
        let n_wrt = self.wrt.len();
        assert!(
            vars.len() >= self.n_vars && grads.len() >= n_wrt,
            "buffers too short"
        );
        // SAFETY: `entry` is a `GradFn` compiled by `compile`, kept alive by
        // `self.native`; it reads `n_vars` values of `vars` and writes `n_wrt` values
        // of `grads`, the lengths asserted above, and keeps neither pointer.
        let out = unsafe {
            let f: GradFn = std::mem::transmute::<*const u8, GradFn>(self.native.entry);
            f(vars.as_ptr(), grads.as_mut_ptr())
        };
        // Without short-circuiting, so that the test runs at the vector width: a NaN
        // is rare, and `any` tested one gradient at a time (collaborative filtering's
        // 102 a rating) cost as much as the kernel.
        if grads[..n_wrt].iter().fold(false, |nan, g| nan | g.is_nan()) {
            let (out, g) = self.tape.eval_grad(&vars[..self.n_vars], self.which);
            grads[..n_wrt].copy_from_slice(&g[self.wrt.clone()]);
            return out;
        }
        out
    }
}
