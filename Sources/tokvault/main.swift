import TokvaultCLI
import Glibc

exit(Entry.run(Array(CommandLine.arguments.dropFirst())))
