// gRPC server reflection (grpc.reflection.v1 and v1alpha), served from the
// buf-built descriptor set rather than @grpc/reflection: that package, built
// from proto-loader, drops imports (google/protobuf/timestamp.proto) and
// mangles map entries, which breaks buf curl and grpcurl (see anchors.md).
import { status as GrpcStatus, type Server, type ServerDuplexStream } from "@grpc/grpc-js";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import type { DescEnum, DescExtension, DescFile, DescMessage, FileRegistry } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { descriptorSetBase64 } from "../../generated/descriptor_set.js";
import {
  ServerReflectionService as ReflectionV1,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../../generated/grpc/reflection/v1/reflection.js";
import { ServerReflectionService as ReflectionV1Alpha } from "../../generated/grpc/reflection/v1alpha/reflection.js";

const NOT_FOUND = GrpcStatus.NOT_FOUND;
const INVALID_ARGUMENT = GrpcStatus.INVALID_ARGUMENT;

interface Index {
  registry: FileRegistry;
  /** File name -> the file's FileDescriptorProto bytes exactly as buf wrote them. */
  rawFiles: Map<string, Uint8Array>;
  /** Fully qualified symbol (no leading dot) -> name of the file declaring it. */
  symbols: Map<string, string>;
  /** Extendee type name -> extension number -> file name. */
  extensions: Map<string, Map<number, string>>;
  services: string[];
}

let index: Index | undefined;

/** Built lazily on the first reflection request; the descriptor set never changes. */
function getIndex(): Index {
  index ??= buildIndex(Buffer.from(descriptorSetBase64, "base64"));
  return index;
}

function buildIndex(setBytes: Uint8Array): Index {
  const set = fromBinary(FileDescriptorSetSchema, setBytes);
  const registry = createFileRegistry(set);
  const rawFiles = new Map<string, Uint8Array>();
  const raw = splitFileDescriptorSet(setBytes);
  set.file.forEach((f, i) => rawFiles.set(f.name, raw[i]!));

  const symbols = new Map<string, string>();
  const extensions = new Map<string, Map<number, string>>();
  const services: string[] = [];
  for (const file of registry.files) {
    const fileName = file.proto.name;
    const add = (name: string) => symbols.set(name, fileName);
    const addExt = (ext: DescExtension) => {
      add(ext.typeName);
      let byNumber = extensions.get(ext.extendee.typeName);
      if (!byNumber) extensions.set(ext.extendee.typeName, (byNumber = new Map()));
      byNumber.set(ext.number, fileName);
    };
    const addEnum = (e: DescEnum) => {
      add(e.typeName);
      // Enum values are scoped as siblings of their enum (C++ scoping rules).
      const scope = e.typeName.slice(0, Math.max(0, e.typeName.lastIndexOf(".")));
      for (const v of e.values) add(scope ? `${scope}.${v.name}` : v.name);
    };
    const addMessage = (m: DescMessage) => {
      add(m.typeName);
      for (const f of m.fields) add(`${m.typeName}.${f.name}`);
      for (const o of m.oneofs) add(`${m.typeName}.${o.name}`);
      m.nestedMessages.forEach(addMessage);
      m.nestedEnums.forEach(addEnum);
      m.nestedExtensions.forEach(addExt);
    };
    file.messages.forEach(addMessage);
    file.enums.forEach(addEnum);
    file.extensions.forEach(addExt);
    for (const s of file.services) {
      add(s.typeName);
      services.push(s.typeName);
      for (const m of s.methods) add(`${s.typeName}.${m.name}`);
    }
  }
  services.sort();
  return { registry, rawFiles, symbols, extensions, services };
}

/**
 * Cuts a serialized FileDescriptorSet (`repeated FileDescriptorProto file = 1`)
 * into each file's original bytes, so clients get exactly what buf built.
 */
function splitFileDescriptorSet(bytes: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(bytes);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) files.push(reader.bytes());
    else reader.skip(wireType);
  }
  return files;
}

/** The file first, then every transitive dependency once (depth first). */
function withDependencies(ix: Index, file: DescFile): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    out.push(Buffer.from(ix.rawFiles.get(f.proto.name)!));
    f.dependencies.forEach(visit);
  };
  visit(file);
  return out;
}

type Answer = NonNullable<ServerReflectionResponse["messageResponse"]>;

function notFound(message: string): Answer {
  return { $case: "errorResponse", value: { errorCode: NOT_FOUND, errorMessage: message } };
}

function fileAnswer(ix: Index, fileName: string | undefined, what: string): Answer {
  const file = fileName === undefined ? undefined : ix.registry.getFile(fileName);
  if (!file) return notFound(what);
  return { $case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(ix, file) } };
}

function answer(ix: Index, req: ServerReflectionRequest): Answer {
  const r = req.messageRequest;
  switch (r?.$case) {
    case "listServices":
      return { $case: "listServicesResponse", value: { service: ix.services.map((name) => ({ name })) } };
    case "fileByFilename":
      return fileAnswer(ix, r.value, `file not found: ${r.value}`);
    case "fileContainingSymbol": {
      // Tolerate a leading dot, as in fully qualified type references.
      const symbol = r.value.replace(/^\./, "");
      return fileAnswer(ix, ix.symbols.get(symbol), `symbol not found: ${r.value}`);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = r.value;
      const fileName = ix.extensions.get(containingType)?.get(extensionNumber);
      return fileAnswer(ix, fileName, `extension not found: ${containingType} field ${extensionNumber}`);
    }
    case "allExtensionNumbersOfType": {
      // A known message with no extensions answers an empty list, as grpc-go does.
      if (!ix.registry.getMessage(r.value)) return notFound(`message type not found: ${r.value}`);
      const numbers = [...(ix.extensions.get(r.value)?.keys() ?? [])].sort((a, b) => a - b);
      return { $case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: numbers } };
    }
    default:
      return {
        $case: "errorResponse",
        value: { errorCode: INVALID_ARGUMENT, errorMessage: "reflection request has no message_request set" },
      };
  }
}

/** One handler serves both v1 and v1alpha: their messages are wire-identical. */
function serverReflectionInfo(
  call: ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>,
): void {
  call.on("data", (req: ServerReflectionRequest) => {
    let messageResponse: Answer;
    try {
      messageResponse = answer(getIndex(), req);
    } catch (err) {
      // A broken descriptor set is a bug: fail the stream (grpc-js turns an
      // emitted 'error' into the call's status) rather than hang it.
      call.emit("error", { code: GrpcStatus.INTERNAL, details: `reflection: ${String(err)}` });
      return;
    }
    call.write({ validHost: req.host, originalRequest: req, messageResponse });
  });
  // Finish with OK once the client has half-closed.
  call.on("end", () => call.end());
}

/** Registers grpc.reflection.v1 and v1alpha ServerReflection on `server`. */
export function addReflection(server: Server): void {
  server.addService(ReflectionV1, { serverReflectionInfo });
  server.addService(ReflectionV1Alpha, { serverReflectionInfo });
}

/** Every service named in the descriptor set, sorted (what list_services answers). */
export function reflectedServiceNames(): string[] {
  return [...getIndex().services];
}
