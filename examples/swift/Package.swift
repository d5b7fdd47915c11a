// swift-tools-version:5.10
import PackageDescription

let package = Package(
    name: "hello",
    targets: [
        .executableTarget(name: "hello", path: "Sources/hello")
    ]
)
