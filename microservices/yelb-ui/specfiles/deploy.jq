# Completes specfiles/deploy.json with what only the build knows: the image
# just pushed, the template of the chosen traffic layer (base64) and where to
# deploy. VPC Lattice needs about 90 s to apply a weight change, so with the
# gatewayapi router a step never lasts less than that.
. + {
  container_image: $image,
  config_file: $config,
  cluster_name: $cluster,
  kubernetes_namespace: $namespace,
  router: $router
}
| if $router == "gatewayapi" and (.wait_time // 0) < 90 then .wait_time = 90 else . end
