/* Body of the per-layer link checks (cmake/layers.cmake): the layer's own
 * objects are linked in whole, so this file only has to exist. */
int dfl_linkcheck_anchor;
