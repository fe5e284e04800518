import CSystem
import Glibc
import LoopRuntime

/// Writing a connection's output when it is more than one run of bytes
/// (`ConnectionMachine.hasSegments`), for the engines that write with
/// system calls of their own (readiness engines, connection threads): the
/// leading memory segments in one `sendmsg` (gather, MSG_NOSIGNAL), or a
/// leading file range with `sendfile`, at most `maxFileChunk` at a time so
/// one large file does not hold the loop from its other connections (nginx's
/// `sendfile_max_chunk` idea; 2 MiB there).
///
/// Headers and the start of a file go in two calls; TCP_NODELAY is on, so
/// the headers may leave in a packet of their own. Corking them together
/// (MSG_MORE) is left for the static-file work, measured.
public enum SegmentSend {
    public static let maxFileChunk = 1 << 20
    /// Memory segments gathered into one call at most.
    public static let maxGather = 16

    /// A file range that leads the pending output.
    public struct FileSegment {
        public let descriptor: Int32
        public let offset: Int
        public let count: Int
    }

    /// What the next write sends: the leading memory segments, gathered
    /// into `vectors` (up to `maxGather`; returns how many), or, when a
    /// file range comes first, that range (and 0 vectors). Shared by every
    /// engine that sends segments, whatever call it issues.
    public static func gather<Machine: ConnectionMachine>(
        _ machine: Machine, into vectors: UnsafeMutablePointer<iovec>
    ) -> (vectors: Int, file: FileSegment?) {
        var gathered = 0
        var file: FileSegment?
        machine.forEachPendingSegment { segment in
            switch segment {
            case .bytes(let bytes):
                guard gathered < maxGather else { return false }
                vectors[gathered] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
                gathered += 1
                return true
            case .file(let descriptor, let offset, let count):
                if gathered == 0 { file = FileSegment(descriptor: descriptor, offset: offset, count: count) }
                return false
            }
        }
        return (gathered, file)
    }

    /// Writes what the socket takes of the machine's pending output: one
    /// `send` when it is one run of bytes (the fast path), else from the
    /// first pending segment (`write(_:_:)` below). Returns the bytes
    /// written, or -1 with `errno` set.
    @inlinable @inline(__always)
    public static func send<Machine: ConnectionMachine>(_ fd: Int32, _ machine: Machine) -> Int {
        if machine.hasSegments { return write(fd, machine) }
        let output = machine.pendingOutput
        return switchyard_send(fd, output.baseAddress, output.count, Int32(MSG_NOSIGNAL))
    }

    /// Writes what the socket takes, from the first pending segment.
    /// Returns the bytes written (report them with `didWrite`), or -1 with
    /// `errno` set: EAGAIN when the socket is full, EIO when a file ended
    /// before its range did (it shrank since the response promised its
    /// length: the connection can only be closed).
    public static func write<Machine: ConnectionMachine>(_ fd: Int32, _ machine: Machine) -> Int {
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: maxGather) { vectors in
            let next = gather(machine, into: vectors.baseAddress!)
            if let file = next.file {
                var offset = off_t(file.offset)
                let n = sendfile(fd, file.descriptor, &offset, min(file.count, maxFileChunk))
                if n == 0 {
                    errno = EIO
                    return -1
                }
                return n
            }
            var message = msghdr()
            message.msg_iov = vectors.baseAddress
            message.msg_iovlen = next.vectors
            return sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
        }
    }
}
