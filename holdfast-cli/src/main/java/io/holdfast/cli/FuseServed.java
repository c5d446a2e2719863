package io.holdfast.cli;

import io.holdfast.fuse.FuseMount;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A FUSE mount served in the foreground by {@link Serve}: announces itself, notices an unmount
 * from outside ({@code fusermount3 -u}), and on stopping unmounts, then closes what the mount
 * served from. Failures while stopping are reported on stderr, prefixed by the command, and do
 * not stop the rest of the clean-up. Used by {@code holdfast mount} and {@code holdfast overlay
 * mount}.
 */
final class FuseServed implements Serve.Served {
    private final String command;
    private final String readyLine;
    private final FuseMount mount;
    private final Path mountPoint;
    private final Path realMountPoint;
    private final List<AutoCloseable> resources;

    /**
     * @param command the command, for messages ("holdfast mount")
     * @param readyLine what to print once the mount serves
     * @param realMountPoint the mount point's real path, looked up in the mount table
     * @param resources closed in order after the unmount
     */
    FuseServed(
            String command,
            String readyLine,
            FuseMount mount,
            Path mountPoint,
            Path realMountPoint,
            List<AutoCloseable> resources) {
        this.command = command;
        this.readyLine = readyLine;
        this.mount = mount;
        this.mountPoint = mountPoint;
        this.realMountPoint = realMountPoint;
        this.resources = resources;
    }

    @Override
    public void ready() {
        System.out.println(readyLine + "; stop with Ctrl-C or 'fusermount3 -u " + mountPoint + "'");
        System.out.flush();
    }

    @Override
    public boolean ended() {
        return mount.isClosed() || !MountCommand.MountTable.isMountPoint(realMountPoint);
    }

    @Override
    public void stopping(Serve.Reason why) {
        if (why == Serve.Reason.ENDED) {
            System.out.println(mountPoint + " was unmounted");
        }
    }

    /** Unmounts and closes the resources; reports a failure of either and goes on (exit 0). */
    @Override
    public void close() {
        try {
            mount.close();
        } catch (IOException | RuntimeException e) {
            System.err.println(command + ": error while unmounting: " + Errors.describe(e));
        }
        for (AutoCloseable r : resources) {
            try {
                r.close();
            } catch (Exception e) {
                System.err.println(command + ": error while closing: " + Errors.describe(e));
            }
        }
    }
}
