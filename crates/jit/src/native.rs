//! The Cranelift plumbing: the host ISA, the Rust functions generated code may call, and
//! the owner of a finished piece of machine code.

use cranelift_codegen::ir::{types, AbiParam, Signature};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::Module;
use gradsheet_engine::op;

use crate::CompileError;

/// The transcendental functions generated code calls. Each is a thin `extern "C"` shim
/// over the *same* Rust function the interpreter ([`gradsheet_engine::Tape`]) and the
/// optimizers call, so compiled and interpreted runs agree bit for bit: no function is
/// re-implemented, and none is approximated.
pub(crate) const EXTERNS: &[(&str, Extern)] = &[
    ("gs_exp", Extern::Unary(gs_exp)),
    ("gs_ln", Extern::Unary(gs_ln)),
    ("gs_log10", Extern::Unary(gs_log10)),
    ("gs_tanh", Extern::Unary(gs_tanh)),
    ("gs_sigmoid", Extern::Unary(gs_sigmoid)),
    ("gs_pow", Extern::Binary(gs_pow)),
    ("gs_powf", Extern::Binary(gs_powf)),
];

/// A callable shim, by arity.
#[derive(Clone, Copy)]
pub(crate) enum Extern {
    Unary(extern "C" fn(f64) -> f64),
    Binary(extern "C" fn(f64, f64) -> f64),
}

extern "C" fn gs_exp(a: f64) -> f64 {
    a.exp()
}
extern "C" fn gs_ln(a: f64) -> f64 {
    a.ln()
}
extern "C" fn gs_log10(a: f64) -> f64 {
    a.log10()
}
extern "C" fn gs_tanh(a: f64) -> f64 {
    a.tanh()
}
extern "C" fn gs_sigmoid(a: f64) -> f64 {
    op::sigmoid(a)
}
extern "C" fn gs_pow(a: f64, b: f64) -> f64 {
    op::pow(a, b)
}
/// `powf`, as `torch.optim.Adam`'s bias correction `1 - β^t` computes it.
extern "C" fn gs_powf(a: f64, b: f64) -> f64 {
    a.powf(b)
}

/// The signature of an extern shim.
pub(crate) fn extern_signature(module: &JITModule, e: Extern) -> Signature {
    let mut sig = module.make_signature();
    let n = match e {
        Extern::Unary(_) => 1,
        Extern::Binary(_) => 2,
    };
    for _ in 0..n {
        sig.params.push(AbiParam::new(types::F64));
    }
    sig.returns.push(AbiParam::new(types::F64));
    sig
}

/// A JIT module for the host with our shims registered.
pub(crate) fn new_module() -> Result<JITModule, CompileError> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| {
        f.set(k, v)
            .map_err(|e| CompileError::Backend(format!("setting {k}: {e}")))
    };
    set(&mut flags, "opt_level", "speed")?;
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
    for (name, e) in EXTERNS {
        let ptr = match *e {
            Extern::Unary(f) => f as *const u8,
            Extern::Binary(f) => f as *const u8,
        };
        jb.symbol(*name, ptr);
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
