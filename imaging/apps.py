from __future__ import annotations

from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Imaging (DICOM)"

    def ready(self) -> None:
        from .signals import instance_stored, instances_filed
        from .stability import instance_stored_receiver, instances_filed_receiver

        instance_stored.connect(instance_stored_receiver, dispatch_uid="imaging.stability")
        instances_filed.connect(instances_filed_receiver, dispatch_uid="imaging.stability")
