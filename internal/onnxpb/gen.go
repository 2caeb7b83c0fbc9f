// Package onnxpb holds the Go protobuf types for the ONNX model format,
// generated from onnx.proto by protoc and protoc-gen-go.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto
