# Writes the FileDescriptorSet IN (protoc-c --descriptor_set_out) as the C
# source OUT: the bytes the reflection service serves (grpc_reflect.c).
#   cmake -DIN=set.pb -DOUT=descriptors.c -P embed_descriptors.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* Generated from the .proto files by embed_descriptors.cmake. */\n"
     "#include <stddef.h>\n"
     "const unsigned char hk_grpc_descriptor_set[] = {\n${bytes}0};\n"
     "const size_t hk_grpc_descriptor_set_len = ${len};\n")
