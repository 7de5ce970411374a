//! The panic handler (wasm32, feature `panic-handler`): revert the call with the message.

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::__private::abort_fmt(format_args!("panicked: {}", info.message()))
}
