//! TCP states as the kernel numbers them, the values packed into
//! [`kind::TCP_STATE`](crate::kind::TCP_STATE)'s `arg` and the state of
//! [`kind::TCP_RETRANSMIT`](crate::kind::TCP_RETRANSMIT) and
//! [`kind::TCP_SEND_RESET`](crate::kind::TCP_SEND_RESET).
//!
//! Source: the anonymous enum of include/net/tcp_states.h (Linux), which
//! starts at `TCP_ESTABLISHED = 1` and counts up; its `TCP_BOUND_INACTIVE`
//! (13, Linux >= 6.8) is a pseudo-state for inet_diag that no tracepoint
//! reports, so it is not here.

/// `TCP_ESTABLISHED`: the handshake completed.
pub const ESTABLISHED: u8 = 1;
/// `TCP_SYN_SENT`: a connect(2) sent its SYN.
pub const SYN_SENT: u8 = 2;
/// `TCP_SYN_RECV`: a SYN was received and answered (passive open).
pub const SYN_RECV: u8 = 3;
/// `TCP_FIN_WAIT1`: this end closed and sent its FIN.
pub const FIN_WAIT1: u8 = 4;
/// `TCP_FIN_WAIT2`: this end's FIN was acknowledged.
pub const FIN_WAIT2: u8 = 5;
/// `TCP_TIME_WAIT`: both FINs done, waiting out stray segments.
pub const TIME_WAIT: u8 = 6;
/// `TCP_CLOSE`: no connection (new, failed, reset or fully closed).
pub const CLOSE: u8 = 7;
/// `TCP_CLOSE_WAIT`: the peer sent its FIN, this end has not closed.
pub const CLOSE_WAIT: u8 = 8;
/// `TCP_LAST_ACK`: both ends closed, waiting for the last ACK.
pub const LAST_ACK: u8 = 9;
/// `TCP_LISTEN`: a listening socket.
pub const LISTEN: u8 = 10;
/// `TCP_CLOSING`: both ends sent a FIN at the same time.
pub const CLOSING: u8 = 11;
/// `TCP_NEW_SYN_RECV`: a request socket (a SYN received, not yet accepted).
pub const NEW_SYN_RECV: u8 = 12;
