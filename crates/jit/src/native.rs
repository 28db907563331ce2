//! The Cranelift plumbing: the host ISA, the Rust functions generated code may call, and
//! the owner of a finished piece of machine code.

use cranelift_codegen::ir::{types, AbiParam, Signature};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::Module;
use gradsheet_engine::op::{Native1, Native2};

use crate::CompileError;

/// The signature of a Rust function of `arity` numbers returning one ([`Native1`],
/// [`Native2`]).
pub(crate) fn extern_signature(module: &JITModule, arity: usize) -> Signature {
    let mut sig = module.make_signature();
    for _ in 0..arity {
        sig.params.push(AbiParam::new(types::F64));
    }
    sig.returns.push(AbiParam::new(types::F64));
    sig
}

/// Whether Cranelift's mid-end (its e-graph pass: value numbering, constant folding,
/// loop-invariant code motion, redundant loads) runs on a function before it is lowered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MidEnd {
    /// Lowered as emitted: for the training kernels (`EpochKernel`, `GradKernel`),
    /// emitted from a tape that is already simplified and value-numbered, with the
    /// loop-carried values explicit, where the pass found nothing that made the code any
    /// quicker (W1, W2, W3, W6 and the native coverage the same within noise) but took a
    /// fifth to a third of the compile (the 130-parameter model's kernel 3.8 → 2.5 ms,
    /// the graddesc-size one 0.69 → 0.51 ms, on the same hour's machine).
    Skip,
    /// Optimized: for the lane kernels, whose loops over the rows it does make quicker
    /// (Cranelift's lanes of W4 were 15% slower without it).
    Run,
}

/// A JIT module for the host with our shims registered, its functions compiled with or
/// without the mid-end ([`MidEnd`]).
pub(crate) fn new_module(mid_end: MidEnd) -> Result<JITModule, CompileError> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| {
        f.set(k, v)
            .map_err(|e| CompileError::Backend(format!("setting {k}: {e}")))
    };
    let level = match mid_end {
        MidEnd::Skip => "none",
        MidEnd::Run => "speed",
    };
    set(&mut flags, "opt_level", level)?;
    set(&mut flags, "is_pic", "false")?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    // The verifier costs more than the compilation of a small model; it stays on in
    // debug builds (and so in the tests), where it checks every function we emit.
    set(
        &mut flags,
        "enable_verifier",
        if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        },
    )?;
    let isa = cranelift_native::builder()
        .map_err(|e| CompileError::Backend(format!("host not supported: {e}")))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| CompileError::Backend(e.to_string()))?;
    let mut jb = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
    for f in Native1::ALL {
        jb.symbol(f.symbol(), f.c_fn() as *const u8);
    }
    for f in Native2::ALL {
        jb.symbol(f.symbol(), f.c_fn() as *const u8);
    }
    Ok(JITModule::new(jb))
}

/// Finished machine code: the module that owns its memory and the entry point.
pub(crate) struct Native {
    module: Option<JITModule>,
    pub(crate) entry: *const u8,
}

impl Native {
    /// Compiles the function built in `ctx` under `name` and makes it callable.
    pub(crate) fn finish(
        mut module: JITModule,
        ctx: &mut cranelift_codegen::Context,
        name: &str,
    ) -> Result<Native, CompileError> {
        let id = module
            .declare_function(name, cranelift_module::Linkage::Export, &ctx.func.signature)
            .map_err(|e| CompileError::Backend(e.to_string()))?;
        module
            .define_function(id, ctx)
            .map_err(|e| CompileError::Backend(format!("{e:?}")))?;
        module.clear_context(ctx);
        Native::finalize(module, id)
    }

    /// Makes machine code written by hand (`crate::wide`) callable: position-independent
    /// bytes with no relocations, placed in the JIT's executable memory.
    pub(crate) fn from_bytes(bytes: &[u8], name: &str) -> Result<Native, CompileError> {
        // (Bytes, not a function: nothing for the mid-end to do.)
        let mut module = new_module(MidEnd::Skip)?;
        let sig = module.make_signature();
        let id = module
            .declare_function(name, cranelift_module::Linkage::Export, &sig)
            .map_err(|e| CompileError::Backend(e.to_string()))?;
        let func = cranelift_codegen::ir::Function::with_name_signature(
            cranelift_codegen::ir::UserFuncName::default(),
            sig,
        );
        module
            .define_function_bytes(id, &func, 64, bytes, &[])
            .map_err(|e| CompileError::Backend(e.to_string()))?;
        Native::finalize(module, id)
    }

    /// Makes the module's one function executable and takes ownership of its memory.
    fn finalize(
        mut module: JITModule,
        id: cranelift_module::FuncId,
    ) -> Result<Native, CompileError> {
        module
            .finalize_definitions()
            .map_err(|e| CompileError::Backend(e.to_string()))?;
        let entry = module.get_finalized_function(id);
        Ok(Native {
            module: Some(module),
            entry,
        })
    }
}

// SAFETY: after `finalize_definitions` the code is immutable, executable memory that
// reads only its arguments, so calling it from several threads at once is sound; the
// module itself is touched again only by `Drop`, which needs `&mut self` and therefore
// exclusive access.
unsafe impl Send for Native {}
// SAFETY: see `Send`: shared references only ever read `entry`.
unsafe impl Sync for Native {}

impl Drop for Native {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: `entry` dies with `self`, and every caller holds `self` (through an
            // `Arc`) while it runs the code, so no pointer into this memory survives.
            unsafe { m.free_memory() };
        }
    }
}
