package org.ferromq.mqadmin;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.Options;
import org.apache.commons.cli.ParseException;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.common.MixAll;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.srvutil.ServerUtil;
import org.apache.rocketmq.tools.command.MQAdminStartup;
import org.apache.rocketmq.tools.command.SubCommand;
import org.apache.rocketmq.tools.command.offset.GetConsumerStatusCommand;

/**
 * Runs one mqadmin sub-command the way {@code MQAdminStartup.main0} does (the same options, the same
 * parser, the name server address from {@code -n} as a system property, no RPC hook) but without its
 * {@code System.exit} on a bad command line and without swallowing the command's exception, so a test
 * sees both what an operator would read on the terminal and whether the command failed.
 */
final class Mqadmin {
    /** Longer than any command's own request timeouts: a command that outlives it hangs. */
    static final Duration HANG = Duration.ofSeconds(60);

    /** What the command printed (stdout and stderr interleaved) and what it threw, if anything. */
    record Result(String command, String output, Throwable error) {
        /** The output of a command that must have succeeded. */
        String ok() {
            if (error != null) {
                throw new AssertionError("mqadmin " + command + " failed: " + describe(error) + "\noutput:\n" + output, error);
            }
            return output;
        }

        /** The failure of a command that must have failed. */
        Throwable failed() {
            if (error == null) {
                throw new AssertionError("mqadmin " + command + " was expected to fail; output:\n" + output);
            }
            return error;
        }
    }

    private Mqadmin() {}

    /** Runs {@code mqadmin NAME ARGS...}; the command is looked up by name like the launcher does. */
    static Result run(String name, String... args) {
        SubCommand cmd = Launcher.find(name);
        return assertTimeoutPreemptively(HANG, () -> runNow(cmd, args),
            () -> "mqadmin " + name + " did not finish within " + HANG);
    }

    private static Result runNow(SubCommand cmd, String... args) throws ParseException {
        System.setProperty(RemotingCommand.REMOTING_VERSION_KEY, Integer.toString(MQVersion.CURRENT_VERSION));
        Options options = cmd.buildCommandlineOptions(ServerUtil.buildCommandlineOptions(new Options()));
        CommandLine commandLine = new DefaultParser().parse(options, args);
        if (commandLine.hasOption('n')) {
            System.setProperty(MixAll.NAMESRV_ADDR_PROPERTY, commandLine.getOptionValue('n'));
        }
        String command = cmd.commandName() + " " + String.join(" ", args);
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream out = System.out;
        PrintStream err = System.err;
        Throwable error = null;
        System.setOut(new PrintStream(new Tee(out, captured), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(new Tee(err, captured), true, StandardCharsets.UTF_8));
        try {
            out.println("$ mqadmin " + command);
            cmd.execute(commandLine, options, null);
        } catch (Throwable t) {
            error = t;
        } finally {
            System.out.flush();
            System.err.flush();
            System.setOut(out);
            System.setErr(err);
        }
        return new Result(command, captured.toString(StandardCharsets.UTF_8), error);
    }

    /** Every message in an exception's cause chain, outermost first. */
    static String describe(Throwable t) {
        StringBuilder text = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (text.length() > 0) {
                text.append(" <- ");
            }
            text.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
            if (c.getCause() == c) {
                break;
            }
        }
        return text.toString();
    }

    /** Writes to the real stream (so the surefire report shows it) and into the capture. */
    private static final class Tee extends OutputStream {
        private final OutputStream first;
        private final OutputStream second;

        Tee(OutputStream first, OutputStream second) {
            this.first = first;
            this.second = second;
        }

        @Override
        public synchronized void write(int b) throws java.io.IOException {
            first.write(b);
            second.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws java.io.IOException {
            first.write(b, off, len);
            second.write(b, off, len);
        }

        @Override
        public synchronized void flush() throws java.io.IOException {
            first.flush();
            second.flush();
        }
    }

    /** The launcher's own list of sub-commands. */
    private static final class Launcher extends MQAdminStartup {
        private static List<SubCommand> commands;

        static synchronized SubCommand find(String name) {
            if (commands == null) {
                initCommand();
                commands = new ArrayList<>(SUB_COMMANDS);
                // in the tools jar, but the 5.3.3 launcher does not list it
                commands.add(new GetConsumerStatusCommand());
            }
            SubCommand listed = commands.stream()
                .filter(c -> c.commandName().equalsIgnoreCase(name))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no mqadmin sub-command " + name));
            // a new instance, as in a fresh mqadmin process: some commands keep their clients in fields
            try {
                return listed.getClass().getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot create " + listed.getClass(), e);
            }
        }
    }
}
