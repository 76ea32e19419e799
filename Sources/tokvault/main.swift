import Glibc
import TokvaultCLI

exit(await Entry.run(Array(CommandLine.arguments.dropFirst())))
